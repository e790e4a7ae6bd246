// Package clientaddr owns the answer to "who is the client of this
// request?" for limits, audit and logs: the peer address, or, when the
// peer is a trusted proxy (--trusted-proxies), the address that proxy
// names in X-Forwarded-For or Forwarded. It also owns the key a client
// address is limited under (IPv6 peers grouped by /64).
package clientaddr
