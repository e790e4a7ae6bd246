package httpapi

import (
	"encoding/json"
	"testing"
)

// TestV2DocumentAppendJSON: the hand-written encoding of the v2 document
// is byte for byte what encoding/json gives, escapes included.
func TestV2DocumentAppendJSON(t *testing.T) {
	for _, d := range []v2Document{
		{AccountID: "le123", DocumentKey: "123#ns#s", DocumentType: "CONTEXT", NameSpace: "ns", Payload: json.RawMessage(`{"a":1,"b":[true,null]}`), SessionID: "s", TenantID: "123", TTL: "2027-12-24T12:00:00Z"},
		{AccountID: "1", DocumentKey: "1#ns", DocumentType: "CONTEXT", NameSpace: "n<s>&\"q\"\\\u2028\x01é", Payload: json.RawMessage(`{}`), TenantID: "1"},
	} {
		want, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.appendJSON(nil); string(got) != string(want) {
			t.Errorf("appendJSON:\n got %s\nwant %s", got, want)
		}
	}
}
