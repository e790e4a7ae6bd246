package storecopy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"unicode/utf8"
)

// normalize turns a value read from either side into the Go type of its
// column's kind: string, []byte, int64 or nil (nullInt only). SQLite
// stores what it was given whatever a column's declared type, so a TEXT
// column may hold a blob and the reverse; PostgreSQL would refuse a value
// of the wrong type, or bytes that are not UTF-8 in a TEXT column, and a
// copy that changed them silently would not be a copy.
func normalize(c column, v any) (any, error) {
	switch c.kind {
	case text:
		switch v := v.(type) {
		case string:
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("column %s holds text that is not UTF-8", c.name)
			}
			return v, nil
		case []byte:
			if !utf8.Valid(v) {
				return nil, fmt.Errorf("column %s holds bytes that are not UTF-8 text", c.name)
			}
			return string(v), nil
		}
	case blob:
		switch v := v.(type) {
		case []byte:
			if v == nil {
				v = []byte{} // NOT NULL: an empty blob, not a missing one
			}
			return v, nil
		case string:
			return []byte(v), nil
		}
	case integer, nullInt:
		switch v := v.(type) {
		case int64:
			return v, nil
		case int32:
			return int64(v), nil
		case nil:
			if c.kind == nullInt {
				return nil, nil
			}
		}
	}
	return nil, fmt.Errorf("column %s holds %T, want %s", c.name, v, c.kind)
}

func (k kind) String() string {
	switch k {
	case text:
		return "text"
	case integer:
		return "an integer"
	case nullInt:
		return "an integer or NULL"
	case blob:
		return "bytes"
	}
	return "?"
}

// checksum hashes a table's rows, in order, each value normalised and
// encoded the same way whichever side it was read from: a tag, then a
// big-endian integer, or a length and the bytes. Text and bytes have
// different tags, so a column that changed type changes the sum.
type checksum struct {
	h    hash.Hash
	rows int64
	buf  []byte
}

func newChecksum() *checksum { return &checksum{h: sha256.New()} }

// add hashes one row of normalised values.
func (c *checksum) add(row []any) {
	b := c.buf[:0]
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			b = append(b, 'N')
		case int64:
			b = append(b, 'I')
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		case string:
			b = append(b, 'T')
			b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, 'B')
			b = binary.BigEndian.AppendUint64(b, uint64(len(v)))
			b = append(b, v...)
		default:
			panic(fmt.Sprintf("storecopy: checksum of %T", v)) // normalize returns only the above
		}
	}
	c.h.Write(b)
	c.buf = b
	c.rows++
}

// sum is the hex SHA-256 of the rows added.
func (c *checksum) sum() string { return hex.EncodeToString(c.h.Sum(nil)) }
