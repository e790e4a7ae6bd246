package config

import "testing"

func TestMemoryLimitBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"128MiB", 128 << 20, true}, {"1GiB", 1 << 30, true}, {"65536KiB", 64 << 20, true},
		{"0", 0, true}, {"134217728", 128 << 20, true}, {"40000000B", 40000000, true},
		{"5MiB", 0, false}, {"lots", 0, false}, {"-1", 0, false}, {"", 0, false}, {"99999999999GiB", 0, false},
	} {
		c := Defaults()
		c.MemoryLimit = tc.in
		got, err := c.MemoryLimitBytes()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("MemoryLimitBytes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestValidateDebugAddr(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:6060": true, "localhost:6060": true, "[::1]:6060": true,
		"0.0.0.0:6060": false, ":6060": false, "10.0.0.1:6060": false, "example.com:6060": false, "6060": false,
	} {
		c := Defaults()
		c.Data = t.TempDir()
		c.DebugAddr = addr
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("Validate(--debug-addr %s) = %v, want ok=%v", addr, err, ok)
		}
	}
}
