package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Limits of what readResponse accepts from a server.
const (
	maxHeaderLines = 100
	readBufSize    = 32 << 10
	maxKeptBody    = 512
)

// errBadResponse wraps every malformed answer.
var errBadResponse = errors.New("loadtest: malformed response")

// response is what the load generator keeps of one answer.
type response struct {
	status int
	// hit is true when the answer carried "X-Cache: HIT".
	hit bool
	// close is true when the server ends the connection after this answer.
	close bool
	// body is the start of the body of an answer whose status was not the expected
	// one (see readResponse), for the error message.
	body string
}

// checkLoopback refuses any address that is not 127.0.0.1:<port>: the load generator
// only ever targets its own servers on this machine.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("loadtest: address %q: %w", addr, err)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("loadtest: address %q is not on 127.0.0.1", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("loadtest: address %q has no valid port", addr)
	}
	return nil
}

// conn is one keep-alive HTTP/1.1 connection: the request is written as prepared bytes
// and the answer parsed just enough to find its end, so that the generator costs the
// machine as little as possible (as wrk does) and leaves the CPU to the server.
type conn struct {
	addr string
	nc   net.Conn
	r    *bufio.Reader
}

// dial opens a connection to addr (127.0.0.1 only).
func dial(addr string, timeout time.Duration) (*conn, error) {
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, fmt.Errorf("loadtest: dial %s: %w", addr, err)
	}
	return &conn{addr: addr, nc: nc, r: bufio.NewReaderSize(nc, readBufSize)}, nil
}

// do writes one whole request and reads its answer (keeping the start of its body when
// its status is not want).
func (c *conn) do(req []byte, want int) (response, error) {
	if _, err := c.nc.Write(req); err != nil {
		return response{}, fmt.Errorf("loadtest: write: %w", err)
	}
	return readResponse(c.r, want)
}

// close closes the connection.
func (c *conn) close() { _ = c.nc.Close() }

// readResponse reads one HTTP/1.x answer from r, skipping its body: Content-Length,
// chunked, or (without either) up to the end of the connection. 1xx answers are
// skipped; 204 and 304 have no body. When the status is not want and the body has a
// Content-Length, its first bytes are kept in response.body. A malformed answer is an
// error wrapping errBadResponse; nothing a server sends makes it panic.
func readResponse(r *bufio.Reader, want int) (response, error) {
	for {
		res, length, chunked, err := readHead(r)
		if err != nil {
			return res, err
		}
		switch {
		case res.status >= 100 && res.status < 200:
			continue
		case res.status == 204 || res.status == 304:
			return res, nil
		case chunked:
			return res, skipChunked(r)
		case length >= 0:
			if res.status != want {
				keep := min(length, maxKeptBody)
				if b, err := r.Peek(int(keep)); err == nil {
					res.body = string(b)
				}
			}
			if _, err := r.Discard(int(length)); err != nil {
				return res, fmt.Errorf("loadtest: body: %w", err)
			}
			return res, nil
		default:
			res.close = true
			if _, err := io.Copy(io.Discard, r); err != nil {
				return res, fmt.Errorf("loadtest: body: %w", err)
			}
			return res, nil
		}
	}
}

// readHead reads the status line and headers; length is -1 when not given.
func readHead(r *bufio.Reader) (res response, length int64, chunked bool, err error) {
	length = -1
	line, err := readLine(r)
	if err != nil {
		return res, length, false, err
	}
	// "HTTP/1.1 200 OK": version, space, three digits, then a space or the end.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return res, length, false, fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return res, length, false, fmt.Errorf("%w: status line %q", errBadResponse, clip(line))
		}
		res.status = res.status*10 + int(d-'0')
	}
	if res.status < 100 {
		return res, length, false, fmt.Errorf("%w: status %d", errBadResponse, res.status)
	}
	for n := 0; ; n++ {
		if n == maxHeaderLines {
			return res, length, false, fmt.Errorf("%w: more than %d header lines", errBadResponse, maxHeaderLines)
		}
		line, err := readLine(r)
		if err != nil {
			return res, length, false, err
		}
		if len(line) == 0 {
			return res, length, chunked, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return res, length, false, fmt.Errorf("%w: header line %q", errBadResponse, clip(line))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || n > 1<<30 {
				return res, length, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, clip(value))
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			res.close = res.close || bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, []byte("X-Cache")):
			res.hit = bytes.Equal(value, []byte("HIT"))
		}
	}
}

// skipChunked skips a chunked body and its trailers.
func skipChunked(r *bufio.Reader) error {
	for {
		line, err := readLine(r)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 || size > 1<<30 {
			return fmt.Errorf("%w: chunk size %q", errBadResponse, clip(line))
		}
		if size == 0 {
			for n := 0; ; n++ {
				if n == maxHeaderLines {
					return fmt.Errorf("%w: too many trailer lines", errBadResponse)
				}
				t, err := readLine(r)
				if err != nil {
					return err
				}
				if len(t) == 0 {
					return nil
				}
			}
		}
		if _, err := r.Discard(int(size)); err != nil {
			return fmt.Errorf("loadtest: chunk: %w", err)
		}
		end, err := readLine(r)
		if err != nil {
			return err
		}
		if len(end) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
		}
	}
}

// readLine returns the next line without its CRLF (or LF). The slice is valid until the
// next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errBadResponse, r.Size())
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("loadtest: read: %w", err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// clip shortens b for an error message.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// appendRequest appends a whole request to buf: method, target (path and query, sent
// as is), the Host, the headers as name/value pairs, and the body with its length.
func appendRequest(buf []byte, method, host, target string, headers []string, body []byte) []byte {
	buf = append(buf, method...)
	buf = append(buf, ' ')
	buf = append(buf, target...)
	buf = append(buf, " HTTP/1.1\r\nHost: "...)
	buf = append(buf, host...)
	buf = append(buf, "\r\n"...)
	for i := 0; i+1 < len(headers); i += 2 {
		buf = append(buf, headers[i]...)
		buf = append(buf, ": "...)
		buf = append(buf, headers[i+1]...)
		buf = append(buf, "\r\n"...)
	}
	if body != nil || method == "POST" || method == "PUT" || method == "PATCH" {
		buf = append(buf, "Content-Type: application/json\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(body)), 10)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	return append(buf, body...)
}
