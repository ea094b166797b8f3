package cache

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"
)

// entryVersion is the first byte of every stored entry.
const entryVersion = 1

// entry is one stored answer. On a hit, the byte fields alias the buffer bigcache returned.
type entry struct {
	expires      int64 // unix nanoseconds
	contentType  []byte
	etag         []byte
	cacheControl []byte
	vary         []byte // the handler's Vary values, comma-joined
	body         []byte
	gz           []byte // body gzip-compressed, or empty
}

// encode lays e out as: version, expires (8 bytes), then four strings with a 2-byte
// length, then body and gz with a 4-byte length (little endian).
func (e *entry) encode() []byte {
	n := 1 + 8 + 4*2 + len(e.contentType) + len(e.etag) + len(e.cacheControl) + len(e.vary) + 8 + len(e.body) + len(e.gz)
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(e.expires))
	for _, s := range [][]byte{e.contentType, e.etag, e.cacheControl, e.vary} {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
		b = append(b, s...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.body)))
	b = append(b, e.body...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.gz)))
	b = append(b, e.gz...)
	return b
}

// decodeEntry reads what encode wrote; false for anything else (never panics).
func decodeEntry(b []byte) (entry, bool) {
	var e entry
	if len(b) < 9 || b[0] != entryVersion {
		return e, false
	}
	e.expires = int64(binary.LittleEndian.Uint64(b[1:9]))
	b = b[9:]
	for _, dst := range []*[]byte{&e.contentType, &e.etag, &e.cacheControl, &e.vary} {
		if len(b) < 2 {
			return entry{}, false
		}
		n := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+n {
			return entry{}, false
		}
		*dst = b[2 : 2+n : 2+n]
		b = b[2+n:]
	}
	for _, dst := range []*[]byte{&e.body, &e.gz} {
		if len(b) < 4 {
			return entry{}, false
		}
		n := binary.LittleEndian.Uint32(b)
		if uint64(len(b)) < 4+uint64(n) {
			return entry{}, false
		}
		*dst = b[4 : 4+n : 4+n]
		b = b[4+n:]
	}
	if len(b) != 0 {
		return entry{}, false
	}
	return e, true
}

// storable reports whether a recorded answer may be shared: a 200 whose Cache-Control
// says public (and not private, no-store or no-cache), that sets no cookie and is not
// already content-encoded.
func storable(status int, h http.Header) bool {
	if status != http.StatusOK || len(h["Set-Cookie"]) > 0 || h.Get("Content-Encoding") != "" {
		return false
	}
	public := false
	for _, v := range h["Cache-Control"] {
		for tok := range strings.SplitSeq(v, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if i := strings.IndexByte(tok, '='); i >= 0 {
				tok = tok[:i]
			}
			switch tok {
			case "public":
				public = true
			case "private", "no-store", "no-cache":
				return false
			}
		}
	}
	return public
}

// newEntry builds the entry of a storable answer: the handler's headers that matter,
// an ETag when the handler set none (the first 16 bytes of the body's SHA-256, as the
// resource engine makes them), and the gzip form of a body of at least gzipMin bytes
// when it saves a tenth or more. addedVary are the Vary values the handler added.
func (c *Cache) newEntry(h http.Header, addedVary []string, body []byte) *entry {
	e := &entry{
		expires:      c.now().Add(c.ttl).UnixNano(),
		contentType:  []byte(h.Get("Content-Type")),
		etag:         []byte(h.Get("Etag")),
		cacheControl: []byte(strings.Join(h["Cache-Control"], ", ")),
		vary:         []byte(strings.Join(addedVary, ", ")),
		body:         body,
	}
	if len(e.etag) == 0 {
		sum := sha256.Sum256(body)
		e.etag = []byte(`"` + hex.EncodeToString(sum[:16]) + `"`)
	}
	if c.gzipMin > 0 && len(body) >= c.gzipMin {
		var buf bytes.Buffer
		buf.Grow(len(body) / 4)
		gz := c.gzPool.Get().(*gzip.Writer)
		gz.Reset(&buf)
		_, err := gz.Write(body)
		if err == nil {
			err = gz.Close()
		}
		gz.Reset(nil)
		c.gzPool.Put(gz)
		if err == nil && buf.Len() <= len(body)-len(body)/10 {
			e.gz = buf.Bytes()
		}
	}
	return e
}

// etagMatches reports whether an If-None-Match value names tag: a comma list, "*"
// matching anything, weak tags compared by their opaque part (RFC 9110 weak comparison).
func etagMatches(header, tag string) bool {
	if header == "" || tag == "" {
		return false
	}
	tag = strings.TrimPrefix(tag, "W/")
	for header != "" {
		var part string
		part, header, _ = strings.Cut(header, ",")
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == tag {
			return true
		}
	}
	return false
}
