package mqttclient

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingConn counts the writes that reach the network.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// TestConnWritesPacketsWholeAndTogether: packets written at once by many
// goroutines, each in several writes as paho does, arrive whole and in each
// writer's order, in fewer system calls than packets.
func TestConnWritesPacketsWholeAndTogether(t *testing.T) {
	client, server := loopbackPair(t)
	counted := &countingConn{Conn: client}
	c := newConn(counted)
	const writers, packets = 8, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range packets {
				body := fmt.Appendf(nil, "writer %d packet %d", w, i)
				var head [5]byte
				head[0] = byte(w)
				binary.BigEndian.PutUint32(head[1:], uint32(len(body)))
				c.Lock()
				c.Write(head[:])
				c.Write(body)
				c.Unlock()
			}
		}()
	}
	next := make([]int, writers)
	br := bufio.NewReader(server)
	server.SetReadDeadline(time.Now().Add(10 * time.Second))
	for range writers * packets {
		var head [5]byte
		if _, err := io.ReadFull(br, head[:]); err != nil {
			t.Fatal(err)
		}
		w := int(head[0])
		body := make([]byte, binary.BigEndian.Uint32(head[1:]))
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("writer %d packet %d", w, next[w]); string(body) != want {
			t.Fatalf("got %q, want %q", body, want)
		}
		next[w]++
	}
	wg.Wait()
	if n := counted.writes.Load(); n >= writers*packets {
		t.Errorf("%d packets in %d writes: none were written together", writers*packets, n)
	} else {
		t.Logf("%d packets in %d writes", writers*packets, n)
	}
}

// TestConnReadsThroughABuffer: paho's small reads of a burst of packets
// take one read from the network.
func TestConnReadsThroughABuffer(t *testing.T) {
	client, server := loopbackPair(t)
	c := newConn(client)
	burst := make([]byte, 100*4) // a hundred PUBACKs
	for i := range 100 {
		copy(burst[i*4:], []byte{0x40, 2, 0, byte(i)})
	}
	if _, err := server.Write(burst); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 0x40 {
			t.Fatalf("packet %d: %v %x", i, err, b)
		}
		var rest [3]byte
		if _, err := io.ReadFull(c, rest[:]); err != nil || rest[2] != byte(i) {
			t.Fatalf("packet %d: %v %x", i, err, rest)
		}
	}
}

// TestConnFailedWrite: once a write fails, the connection is closed (paho's
// reader sees it) and later packets fail instead of vanishing.
func TestConnFailedWrite(t *testing.T) {
	client, server := loopbackPair(t)
	c := newConn(client)
	server.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.err == nil && time.Now().Before(deadline) {
		c.Lock()
		c.Write(make([]byte, 64<<10))
		c.Unlock()
	}
	c.Lock()
	_, err := c.Write([]byte{1})
	c.Unlock()
	if err == nil {
		t.Fatal("writes go on after the peer closed the connection")
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection can still be read after a failed write")
	}
}
