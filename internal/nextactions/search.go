package nextactions

import "strings"

// Substring search with a linear worst case (CONTAINS, and the
// expression operator contains).
//
// Security: strings.Index falls back to Rabin–Karp for needles longer
// than 64 bytes, with a fixed, public hash: a needle crafted so that every
// window of the haystack collides with it ("a"×389,994 + "<.[#><" in
// "a"×780,000) costs the product of their lengths, 2.5 s of CPU for one
// condition, and a search cannot be interrupted. For needles of at most
// shortNeedle bytes strings.Index is bounded by shortNeedle·len(haystack)
// byte comparisons (the SIMD brute force of internal/bytealg, used up to
// 31 bytes on amd64 without AVX2 and 63 with it, or Rabin–Karp over
// windows that short; see internal/stringslite.Index): at most 40 ns a
// step of the charge below, measured by BenchmarkSearchWorstCase. Past
// 63 bytes its worst case is 560 ns a step (a 64-byte colliding needle).
// Longer needles go through Knuth–Morris–Pratt, which compares at most
// 2·len(haystack) bytes after building a table of the needle.

// shortNeedle is the longest needle searched with strings.Index.
const shortNeedle = 31

// searchSteps is the cost of index(s, sub): the bytes of both sides, and
// for a long needle the table KMP builds and its slower scan.
func searchSteps(s, sub string) int64 {
	if len(sub) <= shortNeedle || len(sub) > len(s) {
		return stringSteps(len(s) + len(sub))
	}
	return stringSteps(len(s)+len(sub)) * kmpCostFactor
}

// kmpCostFactor is how much more a byte of a KMP search costs than a byte
// copied or compared: with it, its worst cases cost 40–60 ns a step
// (BenchmarkSearchWorstCase).
const kmpCostFactor = 4

// index returns the index of the first instance of sub in s, or -1; the
// same as strings.Index, in time linear in len(s)+len(sub).
func index(s, sub string) int {
	n := len(sub)
	switch {
	case n <= shortNeedle:
		return strings.Index(s, sub)
	case n > len(s):
		return -1
	case n == len(s):
		if s == sub {
			return 0
		}
		return -1
	}
	return kmpIndex(s, sub)
}

// kmpIndex is index by Knuth–Morris–Pratt: fail[i] is the length of the
// longest proper border (prefix that is also a suffix) of sub[:i+1]. While
// nothing of sub is matched it skips ahead with strings.IndexByte.
func kmpIndex(s, sub string) int {
	n := len(sub)
	fail := make([]int32, n)
	for i, k := 1, int32(0); i < n; i++ {
		for k > 0 && sub[i] != sub[k] {
			k = fail[k-1]
		}
		if sub[i] == sub[k] {
			k++
		}
		fail[i] = k
	}
	k := 0 // bytes of sub matched, ending at s[i-1]
	for i := 0; i < len(s); i++ {
		if k == 0 {
			// Not a single byte matched: jump to the next first byte
			// (as long as sub still fits).
			if i > len(s)-n {
				return -1
			}
			j := strings.IndexByte(s[i:len(s)-n+1], sub[0])
			if j < 0 {
				return -1
			}
			i += j
		}
		for k > 0 && s[i] != sub[k] {
			k = int(fail[k-1])
		}
		if s[i] == sub[k] {
			k++
			if k == n {
				return i - n + 1
			}
		}
	}
	return -1
}
