package main

import (
	"math"
	"math/bits"
	"time"
)

// histBuckets is the number of buckets of hist: values below 64 ns each have their own,
// then every power-of-two range is split in 32, so a bucket is at most 1/32 (about 3%)
// of its values wide.
const histBuckets = 64 + 57*32

// hist is a latency histogram of bounded size, however many values it records.
type hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    int64
	max    int64
}

// bucketOf returns the bucket of a value in nanoseconds (negative values count as 0).
func bucketOf(v int64) int {
	if v < 64 {
		return int(max(v, 0))
	}
	s := bits.Len64(uint64(v)) - 6 // v >> s is in [32, 63]
	return 64 + (s-1)*32 + int(v>>s) - 32
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 64 {
		return int64(i), int64(i)
	}
	s := (i-64)/32 + 1
	m := int64((i-64)%32 + 32)
	lo = m << s
	if s == 57 && m == 63 {
		return lo, math.MaxInt64
	}
	return lo, (m+1)<<s - 1
}

// record adds one value.
func (h *hist) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += v
	h.max = max(h.max, v)
}

// merge adds o's values to h.
func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q (0..1): the middle of the bucket holding the
// ceil(q·n)-th smallest value, never more than the largest value recorded. 0 when empty.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			return time.Duration(min(lo+(hi-lo)/2, h.max))
		}
	}
	return time.Duration(h.max)
}

// mean returns the average value (0 when empty).
func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / int64(h.n))
}
