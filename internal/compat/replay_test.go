package compat_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// exchange is one request as a client sends it and what came back.
type exchange struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the answer, failing the test when it is not JSON.
func (x exchange) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(x.body, v); err != nil {
		t.Fatalf("answer %d %q is not the JSON the client parses: %v", x.status, x.body, err)
	}
}

// send replays one request with exactly these headers (Go adds Host,
// Content-Length and, absent a given one, Accept-Encoding; nothing else).
func send(t *testing.T, method, url string, header map[string]string, body []byte) exchange {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return exchange{status: resp.StatusCode, header: resp.Header, body: b}
}

// expect fails the test unless x has the status the client accepts.
func expect(t *testing.T, x exchange, what string, status int) {
	t.Helper()
	if x.status != status {
		t.Fatalf("%s: status %d, the client accepts only %d (body %q)", what, x.status, status, x.body)
	}
}

// uuid4 is what crypto.randomUUID() gives a Node client.
func uuid4() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// undici is what Node's built-in fetch (undici) adds to every request
// besides the headers the caller gives.
var undici = map[string]string{
	"Accept":          "*/*",
	"User-Agent":      "node",
	"Accept-Language": "*",
	"Sec-Fetch-Mode":  "cors",
	"Accept-Encoding": "gzip, deflate",
	"Connection":      "keep-alive",
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}
