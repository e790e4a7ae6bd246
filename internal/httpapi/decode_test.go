package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/fault"
)

type decodeInner struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Ratio float64  `json:"ratio"`
	Tags  []string `json:"tags"`
}

type decodeEmbedded struct {
	AccountID string `json:"accountId"`
}

type decodeBody struct {
	decodeEmbedded
	Inner  *decodeInner           `json:"policy"`
	List   []decodeInner          `json:"list"`
	Map    map[string]decodeInner `json:"map"`
	Flag   bool                   `json:"flag"`
	Plain  string
	Bytes  []byte `json:"bytes"`
	Nested struct {
		decodeEmbedded
	} `json:"nested"`
	Opaque any             `json:"opaque"`
	Raw    json.RawMessage `json:"raw"`
}

// goTypeName matches what encoding/json's messages show of Go.
var goTypeName = regexp.MustCompile(`decode[A-Z]\w*|\bInner\b|httpapi|\bint\b|float64|\[\]|map\[|Go (struct|value)`)

// TestDecodeJSONMessages pins messages that name JSON paths and kinds,
// never Go types or Go struct names (security review finding 15).
func TestDecodeJSONMessages(t *testing.T) {
	for _, tc := range []struct {
		body, want string
	}{
		{`{"accountId":5}`, "accountId: want a string"},
		{`{"policy":{"name":5}}`, "policy.name: want a string"},
		{`{"policy":{"count":"x"}}`, "policy.count: want an integer"},
		{`{"policy":{"count":1.5}}`, "policy.count: want an integer in range"},
		{`{"policy":{"ratio":1e999}}`, "policy.ratio: number out of range"},
		{`{"policy":{"tags":[1]}}`, "policy.tags: want a string"},
		{`{"policy":[1]}`, "policy: want an object"},
		{`{"list":[{"name":true}]}`, "list.name: want a string"},
		{`{"map":{"k":{"name":[]}}}`, "map.name: want a string"}, // encoding/json leaves map keys out
		{`{"flag":"yes"}`, "flag: want true or false"},
		{`{"Plain":1}`, "Plain: want a string"},
		{`{"bytes":1}`, "bytes: want a base64 string"},
		{`{"nested":{"accountId":1}}`, "nested.accountId: want a string"},
		{`[1]`, "request body: want an object"},
		{`{"accountId":"\ud800"}`, "request body: invalid UTF-8: a \\u escape of a lone surrogate"},
		{`{"accountId":"\udc00\ud800"}`, "request body: invalid UTF-8: a \\u escape of a lone surrogate"},
		{"{\"accountId\":\"a\xffb\"}", "request body: invalid UTF-8"},
		{`{"accountId":`, "request body: invalid JSON: unexpected end of input"},
		{`{} {}`, "request body: unexpected data after the JSON value"},
		// Strict bodies: an unknown member is refused with its path.
		{`{"acountId":"1"}`, "acountId: unknown field"},
		{`{"policy":{"name":"x","condition":[]}}`, "policy.condition: unknown field"},
		{`{"list":[{"name":"a"},{"nme":"b"}]}`, "list[1].nme: unknown field"},
		{`{"map":{"k":{"x":1}}}`, "map.k.x: unknown field"},
		{`{"nested":{"accountId":"1","ttlSecond":5}}`, "nested.ttlSecond: unknown field"},
		{`{"policy":{"tags":["a"]},"decodeembedded":{}}`, "decodeembedded: unknown field"},
		{`{"opaque":{"any":{"thing":1}},"raw":{"x":[{"y":2}]},"bad":1}`, "bad: unknown field"},
		{`{"list":[{"name":"a"}],"x\n":1}`, "x?: unknown field"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			var v decodeBody
			err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &v, false)
			if !errors.Is(err, fault.ErrInvalid) {
				t.Fatalf("err = %v, want a fault.ErrInvalid", err)
			}
			if err.Error() != tc.want {
				t.Errorf("message = %q, want %q", err, tc.want)
			}
			if goName := goTypeName.FindString(err.Error()); goName != "" {
				t.Errorf("message %q names Go %q", err, goName)
			}
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	for _, body := range []string{
		`{"accountId":"\ud83d\ude00 \\ud800 \\\ud83d\ude00 é"}`, // a pair; an escaped backslash then "ud800"
		`{"accountId":"\u00e9\uFFFD"}`,
		`{"policy":{"name":"日本"}}`,
		`{"ACCOUNTID":"1","plain":"p","opaque":{"x":{"y":1}},"raw":{"z":1},"map":{"k":{"name":"n"}}}`, // encoding/json's case folding
	} {
		var v decodeBody
		if err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(body)), &v, false); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	var v decodeBody
	if err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader("")), &v, true); err != nil {
		t.Errorf("empty body with allowEmpty: %v", err)
	}
}
