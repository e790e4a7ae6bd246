package sdk

import (
	"testing"
)

func TestNewBaseURLs(t *testing.T) {
	tests := []struct {
		name           string
		cfg            Config
		wantV2, wantV1 string
		wantErr        bool
	}{
		{"zone z1", Config{Zone: "z1"}, "https://z1.ccs.liveperson.net", "https://z1.context.liveperson.net", false},
		{"zone z2", Config{Zone: "z2"}, "https://z2.ccs.liveperson.net", "https://z2.context.liveperson.net", false},
		{"zone z3", Config{Zone: "z3"}, "https://z3.ccs.liveperson.net", "https://z3.context.liveperson.net", false},
		{"self-hosted serves both", Config{Zone: "z1", BaseURL: "http://127.0.0.1:8080/"}, "http://127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"v1 override", Config{Zone: "z2", V1BaseURL: "https://v1.example"}, "https://z2.ccs.liveperson.net", "https://v1.example", false},
		{"both overridden", Config{BaseURL: "https://a.example", V1BaseURL: "https://b.example"}, "https://a.example", "https://b.example", false},
		{"unknown zone", Config{Zone: "z9"}, "", "", true},
		{"nothing", Config{}, "", "", true},
		{"not http", Config{BaseURL: "ftp://x"}, "", "", true},
		{"no host", Config{BaseURL: "http://"}, "", "", true},
		{"query", Config{BaseURL: "http://x/?access_token=1"}, "", "", true},
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
			if c.BaseURL() != tt.wantV2 || c.V1BaseURL() != tt.wantV1 {
				t.Errorf("base URLs = %s, %s; want %s, %s", c.BaseURL(), c.V1BaseURL(), tt.wantV2, tt.wantV1)
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
