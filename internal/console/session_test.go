package console

import (
	"testing"
	"time"
)

func TestSessionsBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newSessions(time.Minute, time.Hour, 3, func() time.Time { return now })
	var ids []string
	for range 5 {
		id, _ := s.create(owner{accountID: "1", email: "a@example.com"})
		ids = append(ids, id)
		now = now.Add(time.Second)
	}
	if n := s.len(); n != 3 {
		t.Fatalf("%d sessions stored, want at most 3", n)
	}
	// The oldest were evicted; the newest live.
	for i, id := range ids {
		_, ok := s.get(id)
		if want := i >= 2; ok != want {
			t.Errorf("session %d: live %v, want %v", i, ok, want)
		}
	}
	// Expired sessions are dropped before live ones are evicted.
	now = now.Add(50 * time.Second)
	s.get(ids[4]) // keeps only this one alive
	now = now.Add(30 * time.Second)
	s.create(owner{accountID: "1", email: "b@example.com"})
	if _, ok := s.get(ids[4]); !ok || s.len() != 2 {
		t.Errorf("live session evicted or expired kept: live %v, %d stored", ok, s.len())
	}
}

func TestSessionsHashIDs(t *testing.T) {
	s := newSessions(time.Minute, time.Hour, 10, time.Now)
	id, ss := s.create(owner{accountID: "1", email: "a@example.com"})
	for h, v := range s.byHash {
		if string(h[:]) == id || v.csrf == id {
			t.Fatal("the session id is stored in the clear")
		}
	}
	if ss.csrf == "" || ss.csrf == id {
		t.Error("CSRF token missing or equal to the session id")
	}
	if _, ok := s.get(id + "x"); ok {
		t.Error("a different id opened the session")
	}
}
