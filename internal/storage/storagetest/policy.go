package storagetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/orchestrator/orchestrator/internal/storage"
)

func newPolicy(account, id, rev string) storage.Policy {
	return storage.Policy{AccountID: account, ID: id, Revision: rev, Body: []byte(`{"name":"` + id + `"}`), CreatedAt: t0, UpdatedAt: t0}
}

func policyIDs(t *testing.T, b Backend, account string) []string {
	t.Helper()
	ps, err := b.ListPolicies(context.Background(), account)
	if err != nil {
		t.Fatalf("ListPolicies(%s): %v", account, err)
	}
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func testPolicies(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("700", true))
	mustCreate(t, b, newAccount("701", true))

	if ids := policyIDs(t, b, "700"); len(ids) != 0 {
		t.Fatalf("ListPolicies(empty) = %v, want []", ids)
	}
	_, err := b.GetPolicy(ctx, "700", "p1")
	wantErr(t, "GetPolicy(missing)", err, storage.ErrNotFound)

	// Create keeps the order of creation, per account.
	var created []storage.Policy
	for _, id := range []string{"p1", "p2", "p3"} {
		p, err := b.CreatePolicy(ctx, newPolicy("700", id, "r1"), 0)
		if err != nil {
			t.Fatalf("CreatePolicy(%s): %v", id, err)
		}
		created = append(created, p)
	}
	if _, err := b.CreatePolicy(ctx, newPolicy("701", "p1", "r1"), 0); err != nil {
		t.Fatalf("the same id in another account: %v", err)
	}
	if diff := cmp.Diff([]string{"p1", "p2", "p3"}, policyIDs(t, b, "700")); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if !(created[0].Position < created[1].Position && created[1].Position < created[2].Position) {
		t.Errorf("positions not increasing: %d %d %d", created[0].Position, created[1].Position, created[2].Position)
	}
	_, err = b.CreatePolicy(ctx, newPolicy("700", "p2", "r9"), 0)
	wantErr(t, "CreatePolicy(duplicate id)", err, storage.ErrAlreadyExists)
	_, err = b.CreatePolicy(ctx, newPolicy("700", "p4", "r1"), 3)
	wantErr(t, "CreatePolicy(over max)", err, storage.ErrConflict)
	_, err = b.CreatePolicy(ctx, newPolicy("799", "p1", "r1"), 0)
	wantErr(t, "CreatePolicy(no account)", err, storage.ErrNotFound)

	got, err := b.GetPolicy(ctx, "700", "p2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created[1], got); diff != "" {
		t.Errorf("GetPolicy (-want +got):\n%s", diff)
	}

	// Update replaces body and revision, keeps position and creation.
	up := newPolicy("700", "p2", "r2")
	up.Body = []byte(`{"name":"changed"}`)
	up.UpdatedAt = t0.Add(time.Hour)
	updated, err := b.UpdatePolicy(ctx, up)
	if err != nil {
		t.Fatal(err)
	}
	want := created[1]
	want.Revision, want.Body, want.UpdatedAt = "r2", up.Body, up.UpdatedAt
	if diff := cmp.Diff(want, updated); diff != "" {
		t.Errorf("UpdatePolicy (-want +got):\n%s", diff)
	}
	if got, _ := b.GetPolicy(ctx, "700", "p2"); !cmp.Equal(want, got) {
		t.Errorf("GetPolicy after update = %+v, want %+v", got, want)
	}
	if diff := cmp.Diff([]string{"p1", "p2", "p3"}, policyIDs(t, b, "700")); diff != "" {
		t.Errorf("order after update (-want +got):\n%s", diff)
	}
	_, err = b.UpdatePolicy(ctx, newPolicy("701", "p2", "r2"))
	wantErr(t, "UpdatePolicy(other account)", err, storage.ErrNotFound)

	// Delete; a new policy goes after the survivors.
	if err := b.DeletePolicy(ctx, "700", "p2"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeletePolicy(again)", b.DeletePolicy(ctx, "700", "p2"), storage.ErrNotFound)
	if _, err := b.CreatePolicy(ctx, newPolicy("700", "p2", "r3"), 0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p1", "p3", "p2"}, policyIDs(t, b, "700")); diff != "" {
		t.Errorf("order after delete and create (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"p1"}, policyIDs(t, b, "701")); diff != "" {
		t.Errorf("other account (-want +got):\n%s", diff)
	}

	// Revisions list the same policies in the same order, without bodies.
	full, err := b.ListPolicies(ctx, "700")
	if err != nil {
		t.Fatal(err)
	}
	revs, err := b.ListPolicyRevisions(ctx, "700")
	if err != nil {
		t.Fatal(err)
	}
	for i := range full {
		full[i].Body = nil
	}
	if diff := cmp.Diff(full, revs); diff != "" {
		t.Errorf("ListPolicyRevisions (-want +got):\n%s", diff)
	}
}

func testPoliciesConcurrentCreate(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("710", true))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.CreatePolicy(ctx, newPolicy("710", fmt.Sprintf("p%02d", i), "r"), 0)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent CreatePolicy: %v", err)
		}
	}
	ps, err := b.ListPolicies(ctx, "710")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 20 {
		t.Fatalf("got %d policies, want 20", len(ps))
	}
	for i := 1; i < len(ps); i++ {
		if ps[i-1].Position >= ps[i].Position {
			t.Errorf("positions not strictly increasing: %d then %d", ps[i-1].Position, ps[i].Position)
		}
	}
}

func testPolicyEvaluations(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("720", true))
	mustCreate(t, b, newAccount("721", true))
	ev := func(acct, conv, policy, state string, at time.Time) storage.PolicyEvaluation {
		return storage.PolicyEvaluation{Time: at, AccountID: acct, ConversationID: conv, PolicyID: policy, State: state}
	}
	day := 24 * time.Hour
	old := ev("720", "c1", "p1", "TRUE", t0.Add(-8*day))
	e1 := ev("720", "c1", "p1", "FALSE", t0.Add(-time.Hour))
	e2 := ev("720", "c1", "p2", "TRUE", t0.Add(-time.Hour+time.Millisecond))
	e3 := ev("720", "c2", "p1", "DISABLED", t0)
	other := ev("721", "c1", "p1", "ERROR", t0)
	gone := ev("799", "c1", "p1", "TRUE", t0) // no such account: dropped
	if err := b.AppendEvaluations(ctx, []storage.PolicyEvaluation{old, e1, e2, e3, other, gone}, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendEvaluations(ctx, nil, 10); err != nil {
		t.Fatalf("AppendEvaluations(nil): %v", err)
	}
	since := t0.Add(-7 * day)
	tests := []struct {
		name, acct, conv string
		limit            int
		want             []storage.PolicyEvaluation
	}{
		{"all, newest first", "720", "", 100, []storage.PolicyEvaluation{e3, e2, e1}},
		{"one conversation", "720", "c1", 100, []storage.PolicyEvaluation{e2, e1}},
		{"limit", "720", "", 1, []storage.PolicyEvaluation{e3}},
		{"other account", "721", "", 100, []storage.PolicyEvaluation{other}},
		{"unknown conversation", "720", "nope", 100, []storage.PolicyEvaluation{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.ListEvaluations(ctx, tt.acct, tt.conv, since, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListEvaluations (-want +got):\n%s", diff)
			}
		})
	}
	n, err := b.PurgeEvaluations(ctx, since, 100)
	if err != nil || n != 1 {
		t.Fatalf("PurgeEvaluations = %d, %v; want 1, nil", n, err)
	}
	got, err := b.ListEvaluations(ctx, "720", "c1", time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]storage.PolicyEvaluation{e2, e1}, got); diff != "" {
		t.Errorf("after purge (-want +got):\n%s", diff)
	}
	if n, err := b.PurgeEvaluations(ctx, since, 100); err != nil || n != 0 {
		t.Errorf("second purge = %d, %v; want 0, nil", n, err)
	}
	testPolicyEvaluationsCap(t, b)
}

// testPolicyEvaluationsCap: appending past maxPerAccount keeps the newest
// entries of that account (by time, then order of appending), leaves other
// accounts' entries alone, and counts purged entries out.
func testPolicyEvaluationsCap(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("740", true))
	mustCreate(t, b, newAccount("741", true))
	const max = 5
	var all []storage.PolicyEvaluation // of 740, oldest first
	ev := func(acct string, i int) storage.PolicyEvaluation {
		return storage.PolicyEvaluation{Time: t0.Add(time.Duration(i) * time.Millisecond), AccountID: acct, ConversationID: "c", PolicyID: fmt.Sprint("p", i), State: "FALSE"}
	}
	other := []storage.PolicyEvaluation{ev("741", 0), ev("741", 1), ev("741", 2)}
	if err := b.AppendEvaluations(ctx, other, max); err != nil {
		t.Fatal(err)
	}
	list := func(acct string) []storage.PolicyEvaluation {
		t.Helper()
		got, err := b.ListEvaluations(ctx, acct, "", time.Time{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	newestFirst := func(es []storage.PolicyEvaluation) []storage.PolicyEvaluation {
		out := make([]storage.PolicyEvaluation, len(es))
		for i, e := range es {
			out[len(es)-1-i] = e
		}
		return out
	}
	// Appends of 3, 4 (one batch over the cap), 1 and 9 (one batch of
	// more than the cap), then a new entry with an entry older than
	// everything kept, which is not kept.
	i := 10
	for _, k := range []int{3, 4, 1, 9} {
		var batch []storage.PolicyEvaluation
		for range k {
			batch = append(batch, ev("740", i))
			i++
		}
		if err := b.AppendEvaluations(ctx, batch, max); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	late := ev("740", 0)
	late.PolicyID = "late"
	if err := b.AppendEvaluations(ctx, []storage.PolicyEvaluation{ev("740", i), late}, max); err != nil {
		t.Fatal(err)
	}
	all = append(all, ev("740", i))
	want := newestFirst(all[len(all)-max:])
	if diff := cmp.Diff(want, list("740")); diff != "" {
		t.Errorf("capped log (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(newestFirst(other), list("741")); diff != "" {
		t.Errorf("other account's log (-want +got):\n%s", diff)
	}
	// Purging counts entries out: after purging 3 of the 5, appending 3
	// more keeps all 5 then there.
	if _, err := b.PurgeEvaluations(ctx, want[1].Time, 100); err != nil {
		t.Fatal(err)
	}
	more := []storage.PolicyEvaluation{ev("740", 100), ev("740", 101), ev("740", 102)}
	if err := b.AppendEvaluations(ctx, more, max); err != nil {
		t.Fatal(err)
	}
	want = append(newestFirst(more), want[:2]...)
	if diff := cmp.Diff(want, list("740")); diff != "" {
		t.Errorf("after purge and append (-want +got):\n%s", diff)
	}
}

func testPoliciesAccountDelete(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("730", true))
	if _, err := b.CreatePolicy(ctx, newPolicy("730", "p1", "r"), 0); err != nil {
		t.Fatal(err)
	}
	if err := b.AppendEvaluations(ctx, []storage.PolicyEvaluation{{Time: t0, AccountID: "730", PolicyID: "p1", State: "TRUE"}}, 10); err != nil {
		t.Fatal(err)
	}
	if err := b.DeleteAccount(ctx, "730"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, b, newAccount("730", true)) // a new account with the same id sees nothing
	if ids := policyIDs(t, b, "730"); len(ids) != 0 {
		t.Errorf("policies survived the account: %v", ids)
	}
	evs, err := b.ListEvaluations(ctx, "730", "", time.Time{}, 10)
	if err != nil || len(evs) != 0 {
		t.Errorf("evaluations after account delete = %v, %v; want none", evs, err)
	}
}

func testAccountAttributes(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("750", true))
	mustCreate(t, b, newAccount("751", true))

	_, err := b.GetAccountAttributes(ctx, "750", "")
	wantErr(t, "GetAccountAttributes(none)", err, storage.ErrNotFound)
	err = b.PutAccountAttributes(ctx, storage.AccountAttributes{AccountID: "nope", Revision: "r1", Body: []byte(`{}`), UpdatedAt: t0})
	wantErr(t, "PutAccountAttributes(unknown account)", err, storage.ErrNotFound)

	put := func(account, rev, body string) {
		t.Helper()
		if err := b.PutAccountAttributes(ctx, storage.AccountAttributes{AccountID: account, Revision: rev, Body: []byte(body), UpdatedAt: t0}); err != nil {
			t.Fatalf("PutAccountAttributes(%s, %s): %v", account, rev, err)
		}
	}
	put("750", "r1", `{"vipSkill":42}`)
	put("751", "x1", `{"other":true}`)
	got, err := b.GetAccountAttributes(ctx, "750", "")
	if err != nil {
		t.Fatal(err)
	}
	want := storage.AccountAttributes{AccountID: "750", Revision: "r1", Body: []byte(`{"vipSkill":42}`), UpdatedAt: t0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetAccountAttributes (-want +got):\n%s", diff)
	}
	// The revision the caller has: no body.
	got, err = b.GetAccountAttributes(ctx, "750", "r1")
	if err != nil || got.Revision != "r1" || got.Body != nil {
		t.Errorf("GetAccountAttributes(known revision) = %+v, %v; want revision r1 without a body", got, err)
	}
	// A put replaces the whole set.
	put("750", "r2", `{"b":"x"}`)
	got, err = b.GetAccountAttributes(ctx, "750", "r1")
	if err != nil || got.Revision != "r2" || string(got.Body) != `{"b":"x"}` {
		t.Errorf("after replace = %+v, %v; want r2 {\"b\":\"x\"}", got, err)
	}
	if got, _ := b.GetAccountAttributes(ctx, "751", ""); string(got.Body) != `{"other":true}` {
		t.Errorf("another account's attributes = %s", got.Body)
	}

	// Deleting the account deletes them; an account created again with the id has none.
	if err := b.DeleteAccount(ctx, "750"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, b, newAccount("750", true))
	_, err = b.GetAccountAttributes(ctx, "750", "")
	wantErr(t, "GetAccountAttributes(after account delete)", err, storage.ErrNotFound)
}

// testPoliciesMove: a move swaps a policy with its neighbour, stays put
// at either end, touches no other account, and concurrent moves with
// creates keep a strict order in which every policy appears once.
func testPoliciesMove(t *testing.T, b Backend) {
	ctx := context.Background()
	mustCreate(t, b, newAccount("720", true))
	mustCreate(t, b, newAccount("721", true))
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		for _, a := range []string{"720", "721"} {
			if _, err := b.CreatePolicy(ctx, newPolicy(a, id, "r1"), 0); err != nil {
				t.Fatalf("CreatePolicy(%s, %s): %v", a, id, err)
			}
		}
	}
	steps := []struct {
		id   string
		up   bool
		want []string
	}{
		{"p3", true, []string{"p1", "p3", "p2", "p4"}},
		{"p3", true, []string{"p3", "p1", "p2", "p4"}},
		{"p3", true, []string{"p3", "p1", "p2", "p4"}},  // first already
		{"p4", false, []string{"p3", "p1", "p2", "p4"}}, // last already
		{"p1", false, []string{"p3", "p2", "p1", "p4"}},
		{"p3", false, []string{"p2", "p3", "p1", "p4"}},
	}
	for _, st := range steps {
		if err := b.MovePolicy(ctx, "720", st.id, st.up); err != nil {
			t.Fatalf("MovePolicy(%s, up=%v): %v", st.id, st.up, err)
		}
		if diff := cmp.Diff(st.want, policyIDs(t, b, "720")); diff != "" {
			t.Fatalf("after moving %s (up=%v) (-want +got):\n%s", st.id, st.up, diff)
		}
	}
	if diff := cmp.Diff([]string{"p1", "p2", "p3", "p4"}, policyIDs(t, b, "721")); diff != "" {
		t.Errorf("the other account's order changed (-want +got):\n%s", diff)
	}
	wantErr(t, "MovePolicy(missing)", b.MovePolicy(ctx, "720", "nope", true), storage.ErrNotFound)
	wantErr(t, "MovePolicy(other account's id)", b.MovePolicy(ctx, "722", "p1", true), storage.ErrNotFound)
	// A policy created after moves goes last, and the bodies are kept.
	if _, err := b.CreatePolicy(ctx, newPolicy("720", "p5", "r1"), 0); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"p2", "p3", "p1", "p4", "p5"}, policyIDs(t, b, "720")); diff != "" {
		t.Errorf("after a create (-want +got):\n%s", diff)
	}
	if p, err := b.GetPolicy(ctx, "720", "p3"); err != nil || string(p.Body) != `{"name":"p3"}` {
		t.Errorf("GetPolicy(p3) after moves = %q, %v", p.Body, err)
	}

	// Concurrent moves (crossing each other) and creates.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				id := fmt.Sprintf("p%d", (g+i)%5+1)
				if err := b.MovePolicy(ctx, "720", id, (g+i)%2 == 0); err != nil {
					errs <- fmt.Errorf("MovePolicy(%s): %w", id, err)
					return
				}
			}
			if _, err := b.CreatePolicy(ctx, newPolicy("720", fmt.Sprintf("c%d", g), "r1"), 0); err != nil {
				errs <- fmt.Errorf("CreatePolicy(c%d): %w", g, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ps, err := b.ListPolicies(ctx, "720")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if seen[p.ID] {
			t.Errorf("policy %s listed twice", p.ID)
		}
		seen[p.ID] = true
		if i > 0 && p.Position <= ps[i-1].Position {
			t.Errorf("positions not increasing at %d: %d after %d", i, p.Position, ps[i-1].Position)
		}
	}
	if len(ps) != 13 {
		t.Errorf("%d policies after the concurrent moves, want 13", len(ps))
	}
}
