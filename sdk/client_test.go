package sdk

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestNewBaseURLs(t *testing.T) {
	tests := []struct {
		name                   string
		cfg                    Config
		wantV2, wantV1, wantNA string
		wantErr                bool
	}{
		{"zone z1", Config{Zone: "z1"}, "https://z1.ccs.liveperson.net", "https://z1.context.liveperson.net", "https://z1.askmaven.liveperson.net", false},
		{"zone z2", Config{Zone: "z2"}, "https://z2.ccs.liveperson.net", "https://z2.context.liveperson.net", "https://z2.askmaven.liveperson.net", false},
		{"zone z3", Config{Zone: "z3"}, "https://z3.ccs.liveperson.net", "https://z3.context.liveperson.net", "https://z3.askmaven.liveperson.net", false},
		{"self-hosted serves all", Config{Zone: "z1", BaseURL: "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080", "http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		// Whoever moves v1 elsewhere moves v1 Next Actions with it,
		// unless it names a host of its own.
		{"v1 override", Config{Zone: "z2", V1BaseURL: "https://v1.example"}, "https://z2.ccs.liveperson.net", "https://v1.example", "https://v1.example", false},
		{"next actions override", Config{Zone: "z3", NextActionsV1BaseURL: "https://na.example/"}, "https://z3.ccs.liveperson.net", "https://z3.context.liveperson.net", "https://na.example", false},
		{"both overridden", Config{BaseURL: "https://a.example", V1BaseURL: "https://b.example"}, "https://a.example", "https://b.example", "https://b.example", false},
		{"all overridden", Config{BaseURL: "https://a.example", V1BaseURL: "https://b.example", NextActionsV1BaseURL: "https://c.example"}, "https://a.example", "https://b.example", "https://c.example", false},
		{"unknown zone", Config{Zone: "z9"}, "", "", "", true},
		{"nothing", Config{}, "", "", "", true},
		{"not http", Config{BaseURL: "ftp://x"}, "", "", "", true},
		{"no host", Config{BaseURL: "http://"}, "", "", "", true},
		{"query", Config{BaseURL: "http://x/?access_token=1"}, "", "", "", true},
		{"next actions not http", Config{Zone: "z1", NextActionsV1BaseURL: "askmaven.example"}, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if c.BaseURL() != tt.wantV2 || c.V1BaseURL() != tt.wantV1 || c.NextActionsV1BaseURL() != tt.wantNA {
				t.Errorf("base URLs = %s, %s, %s; want %s, %s, %s", c.BaseURL(), c.V1BaseURL(), c.NextActionsV1BaseURL(), tt.wantV2, tt.wantV1, tt.wantNA)
			}
		})
	}
}

func TestRegions(t *testing.T) {
	var got []string
	for _, r := range Regions() {
		got = append(got, r.Zone+" "+r.Name)
	}
	want := "z1 AMERICAS,z2 EMEA,z3 APAC"
	if s := join(got); s != want {
		t.Errorf("regions = %s, want %s", s, want)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

// TestNextActionsV1Host: v1 Next Actions go to their own base URL (the
// askmaven host of a zone), with the API key, while the v1 Context
// Service stays on the v1 base URL.
func TestNextActionsV1Host(t *testing.T) {
	serve := func(hits *[]string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*hits = append(*hits, r.URL.Path+" key="+r.Header.Get("maven-api-key"))
			w.Header().Set("Content-Type", "application/json")
			if strings.HasSuffix(r.URL.Path, "/next-actions") {
				io.WriteString(w, `{"nextActionId":"n1","rule":null,"noMatchReason":"NO_POLICIES_ENABLED"}`)
				return
			}
			io.WriteString(w, `[]`)
		}))
	}
	var ctxHits, naHits []string
	ccs, na := serve(&ctxHits), serve(&naHits)
	defer ccs.Close()
	defer na.Close()
	c, err := New(Config{Zone: "z1", V1BaseURL: ccs.URL, NextActionsV1BaseURL: na.URL, AccountID: "67005361", APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.NextActionsV1(context.Background(), NextActionsV1Request{ConversationID: "c1"})
	if err != nil || res.NoMatchReason != "NO_POLICIES_ENABLED" {
		t.Fatalf("NextActionsV1 = %+v, %v", res, err)
	}
	if _, err := c.ListNamespaces(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/v1/account/67005361/next-actions key=k"}; !slices.Equal(naHits, want) {
		t.Errorf("askmaven host got %q, want %q", naHits, want)
	}
	if want := []string{"/v1/account/67005361 key=k"}; !slices.Equal(ctxHits, want) {
		t.Errorf("context host got %q, want %q", ctxHits, want)
	}
}
