package server

import (
	"context"
	"time"
)

// SetDrain sets how long shutdown waits for in-flight requests.
func SetDrain(s *Server, d time.Duration) { s.drain = d }

// InFlight is the number of requests s is running.
func InFlight(s *Server) int64 { return s.inflight.Load() }

// Purge runs the purges of the background loop once.
func Purge(s *Server, ctx context.Context) { s.purge(ctx) }
