package console_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

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
