// Package loopback is a canned HTTP/1.1 server on 127.0.0.1 for
// micro-benchmarks: it answers every GET with a fixed response chosen by
// path and allocates nothing per request, so that the allocations a
// benchmark reports are the client's alone (an httptest server counts its
// own too). It understands only what such a client sends: requests without
// a body, keep-alive.
package loopback

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
)

// Server is a running canned server.
type Server struct {
	URL       string // http://127.0.0.1:port
	ln        net.Listener
	responses map[string][]byte // path → the whole response
	notFound  []byte
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
}

// Start serves bodies (path → JSON body) with status 200 and
// Content-Type application/json; other paths get 404.
func Start(bodies map[string]string) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), ln: ln, responses: map[string][]byte{}, conns: map[net.Conn]struct{}{}}
	for path, body := range bodies {
		s.responses[path] = response("200 OK", body)
	}
	s.notFound = response("404 Not Found", `{"error":"not found"}`)
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func response(status, body string) []byte {
	return []byte("HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}

// Close stops the server and closes its connections.
func (s *Server) Close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

var errBadRequest = errors.New("bad request")

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	r := bufio.NewReaderSize(c, 4096)
	buf := make([]byte, 0, 256)
	for {
		path, err := readRequest(r, buf)
		if err != nil {
			return
		}
		resp, ok := s.responses[string(path)]
		if !ok {
			resp = s.notFound
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// readRequest reads a request head and returns its path (without query),
// copied into buf.
func readRequest(r *bufio.Reader, buf []byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	// METHOD SP target SP version
	i := bytes.IndexByte(line, ' ')
	if i < 0 {
		return nil, errBadRequest
	}
	target := line[i+1:]
	j := bytes.IndexByte(target, ' ')
	if j < 0 {
		return nil, errBadRequest
	}
	target = target[:j]
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		target = target[:q]
	}
	// Copy the path out of the reader's buffer before reading on.
	path := append(buf[:0], target...)
	for {
		h, err := r.ReadSlice('\n')
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimRight(h, "\r\n")) == 0 {
			return path, nil
		}
	}
}
