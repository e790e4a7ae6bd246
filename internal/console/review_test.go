package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/orchestrator/orchestrator/internal/ccs"
	"github.com/orchestrator/orchestrator/internal/nextactions"
)

// reviewHrefRE finds the links of a page.
var reviewHrefRE = regexp.MustCompile(`href="([^"]*)"`)

// TestReviewDotSegmentLinks: policy ids "." and ".." are valid (A-Z, a-z,
// 0-9, '-', '_', '.'), and so are session ids "." and ".."; the links
// Try it and Evaluation logs make of them must name them, not be dot
// segments a browser resolves away ("/console/policies/.." is
// "/console/", "/console/data/visitor/.." is "/console/data/").
func TestReviewDotSegmentLinks(t *testing.T) {
	s := newEvalStack(t, nextactions.Config{})
	u := s.account(t, "v2")
	s.policy(t, u.accountID, nextactions.Policy{ID: "..", Name: "Two dots", Expression: `visitor.tier == "gold"`, Actions: evalSkill42})
	s.policy(t, u.accountID, nextactions.Policy{ID: ".", Name: "One dot", Expression: "true", Actions: evalSkill42})
	s.setVar(t, u.accountID, "visitor", "..", "tier", `"silver"`)
	b := s.browser(t)
	b.mustSignIn(u)
	try := b.try(url.Values{"conversation": {"c1"}, "session": {".."}})
	logs := b.get("/console/logs")
	for name, body := range map[string]string{"try": try.body, "logs": logs.body} {
		n := 0
		for _, m := range reviewHrefRE.FindAllStringSubmatch(body, -1) {
			h := m[1]
			if !strings.HasPrefix(h, "/console/policies/") && !strings.HasPrefix(h, "/console/data/") {
				continue
			}
			n++
			for _, seg := range strings.Split(strings.SplitN(h, "?", 2)[0], "/") {
				if seg == "." || seg == ".." {
					t.Errorf("%s: link %q has a dot segment", name, h)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no policy or data link", name)
		}
	}
	for _, want := range []string{`href="/console/policies/%2E%2E"`, `href="/console/policies/%2E"`, `href="/console/data/visitor/%2E%2E"`} {
		if !strings.Contains(try.body, want) {
			t.Errorf("try: no %s", want)
		}
	}
}

// TestReviewAuditCannotBeForged: a policy id in the URL reaches the audit
// entry written before the update is tried; a newline or spaces in it
// must not add an entry or a field of the attacker's choosing (the
// update itself is then refused).
func TestReviewAuditCannotBeForged(t *testing.T) {
	ps := newPolicyStack(t)
	ps.create(t, "victim", 1)
	forged := "x\npolicy.delete id=victim enabled=false"
	p := ps.b.post("/console/policies/"+url.PathEscape(forged), acceptanceForm(ps.csrf))
	if p.status < 400 {
		t.Fatalf("update of a forged id: %d, want it refused", p.status)
	}
	for _, a := range ps.auditActions(t) {
		if strings.ContainsAny(a, "\n\r") || strings.HasPrefix(a, "policy.delete") || strings.Count(a, "=") > 1 {
			t.Errorf("audit entry %q carries the forged fields", a)
		}
	}
	if ids := ps.ids(t); len(ids) != 1 {
		t.Errorf("policies after the forged update: %v", ids)
	}
}

// TestReviewPolicyDotLinks: the Policies list links and posts of policies
// "." and ".." name them (%2E), not dot segments a browser resolves away.
func TestReviewPolicyDotLinks(t *testing.T) {
	ps := newPolicyStack(t)
	for _, id := range []string{".", ".."} {
		if _, err := ps.svc.Create(context.Background(), ps.user.accountID, nextactions.Policy{ID: id, Name: "dots " + id, Expression: "true", Actions: evalSkill42}); err != nil {
			t.Fatal(err)
		}
	}
	list := ps.b.get("/console/policies")
	for _, want := range []string{`/console/policies/%2E/enabled`, `/console/policies/%2E%2E/move`, `href="/console/policies/%2E%2E"`} {
		if !strings.Contains(list.body, want) {
			t.Errorf("the list has no %s", want)
		}
	}
	// Disabling "." through its own form works.
	if p := ps.b.post("/console/policies/%2E/enabled", url.Values{"csrf": {ps.csrf}, "enabled": {"false"}}); p.status != http.StatusSeeOther {
		t.Fatalf("disable '.': %d %s", p.status, p.body)
	}
	got, err := ps.svc.Get(context.Background(), ps.user.accountID, ".")
	if err != nil || got.IsEnabled() {
		t.Errorf("policy '.' after Disable: enabled %v, %v", got.IsEnabled(), err)
	}
}

// TestReviewSessionPropertiesPaged: a session of 250 properties is shown
// 100 at a time (the page was unbounded: 20,000 properties were 7.7 MB
// of HTML); a page past the last shows the last; a bad page is 400.
func TestReviewSessionPropertiesPaged(t *testing.T) {
	d := newDataStack(t, "")
	u := d.account(t, "v2")
	k := ccs.Key{AccountID: u.accountID, Namespace: "big", SessionID: "s1"}
	props := map[string]int{}
	for i := range 250 {
		props[fmt.Sprintf("p%03d", i)] = i
	}
	raw, _ := json.Marshal(props)
	if err := d.ccs.Merge(context.Background(), k, raw); err != nil {
		t.Fatal(err)
	}
	b := d.browser(t)
	b.mustSignIn(u)
	count := func(body string) int { return strings.Count(body, `<th scope="row" class="name">`) }
	for _, tc := range []struct {
		query      string
		rows       int
		first      string
		prev, next bool
	}{
		{"", 100, "p000", false, true},
		{"?page=2", 100, "p100", true, true},
		{"?page=3", 50, "p200", true, false},
		{"?page=9", 50, "p200", true, false},
	} {
		p := b.get("/console/data/big/s1" + tc.query)
		if p.status != http.StatusOK {
			t.Fatalf("%q: %d", tc.query, p.status)
		}
		if n := count(p.body); n != tc.rows {
			t.Errorf("%q: %d rows, want %d", tc.query, n, tc.rows)
		}
		if !strings.Contains(p.body, `<th scope="row" class="name">`+tc.first+`</th>`) {
			t.Errorf("%q: the first row is not %s", tc.query, tc.first)
		}
		if got := strings.Contains(p.body, `id="prev-page"`); got != tc.prev {
			t.Errorf("%q: Previous link %v, want %v", tc.query, got, tc.prev)
		}
		if got := strings.Contains(p.body, `id="next-page"`); got != tc.next {
			t.Errorf("%q: Next link %v, want %v", tc.query, got, tc.next)
		}
	}
	if p := b.get("/console/data/big/s1?page=0"); p.status != http.StatusBadRequest {
		t.Errorf("page=0: %d, want 400", p.status)
	}
}
