package redisx

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// DialTimeout bounds the connection to Redis: a node must not hang at
// start-up, nor later on a request, on a Redis that does not answer.
const DialTimeout = time.Second

// Open connects to the Redis at url (redis://[user:password@]host:port/db,
// rediss:// for TLS, as rueidis.ParseURL reads it) and checks that it
// answers a PING within ctx. The error never holds the password.
func Open(ctx context.Context, url string) (rueidis.Client, error) {
	opt, err := rueidis.ParseURL(url)
	if err != nil {
		// ParseURL's errors may quote the URL, password and all.
		return nil, fmt.Errorf("redisx: the Redis URL cannot be read (want redis://host:port/db)")
	}
	opt.Dialer.Timeout = DialTimeout
	// A command that gets no answer fails after this, and the connection
	// is dropped, so that callers fall back instead of piling up.
	opt.ConnWriteTimeout = 2 * DialTimeout
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redisx: connect to %s: %w", addrs(opt), err)
	}
	if err := c.Do(ctx, c.B().Ping().Build()).Error(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redisx: ping %s: %w", addrs(opt), err)
	}
	return c, nil
}

// addrs names the servers of opt without credentials.
func addrs(opt rueidis.ClientOption) string {
	return fmt.Sprint(opt.InitAddress)
}
