package db

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// idCounter is the ObjectId counter; it starts at a random value like MongoDB's.
var idCounter = func() *atomic.Uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := new(atomic.Uint32)
	c.Store(binary.BigEndian.Uint32(b[:]))
	return c
}()

// idProcess is the 5 random bytes of this process's ObjectIds.
var idProcess = func() [5]byte {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return b
}()

// NewID returns a new ObjectId as 24 lowercase hex characters: 4 bytes of Unix seconds,
// 5 random bytes of this process and a 3-byte counter, so ids are time-ordered and unique
// across processes without coordination.
func NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(time.Now().Unix()))
	copy(b[4:9], idProcess[:])
	c := idCounter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s is 24 lowercase hex characters.
func ValidID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
