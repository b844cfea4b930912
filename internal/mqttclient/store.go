package mqttclient

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"sync"
)

// packetStore keeps the packets the client sent that await their
// acknowledgement (paho's session state asks a store for them). paho's
// memory store writes each packet into a buffer of its own when it is sent,
// a copy of every message that is only read if the connection drops and
// the session lives on; this store keeps the packet itself and writes it
// only then. A packet is not changed once sent (a resend is read from the
// written copy), and its payload is the message's, which nobody changes.
type packetStore struct {
	mu    sync.Mutex
	next  uint64 // order of Put
	items map[uint16]storedPacket
}

type storedPacket struct {
	seq    uint64
	packet io.WriterTo
}

func newPacketStore() *packetStore {
	return &packetStore{items: map[uint16]storedPacket{}}
}

// Put keeps the packet with its identifier.
func (s *packetStore) Put(id uint16, _ byte, w io.WriterTo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[id] = storedPacket{seq: s.next, packet: w}
	s.next++
	return nil
}

// Get writes the packet with the identifier, to send it again.
func (s *packetStore) Get(id uint16) (io.ReadCloser, error) {
	s.mu.Lock()
	p, ok := s.items[id]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("packet %d not in the session store", id)
	}
	var b bytes.Buffer
	if _, err := p.packet.WriteTo(&b); err != nil {
		return nil, err
	}
	return io.NopCloser(&b), nil
}

// Delete forgets the packet with the identifier.
func (s *packetStore) Delete(id uint16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.items[id]; !ok {
		return fmt.Errorf("packet %d not in the session store", id)
	}
	delete(s.items, id)
	return nil
}

// Quarantine forgets a packet that could not be read back.
func (s *packetStore) Quarantine(id uint16) error { return s.Delete(id) }

// List returns the identifiers in the order the packets were put.
func (s *packetStore) List() ([]uint16, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]uint16, 0, len(s.items))
	for id := range s.items {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint16) int { return cmp.Compare(s.items[a].seq, s.items[b].seq) })
	return ids, nil
}

// Reset forgets every packet.
func (s *packetStore) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.items)
	return nil
}
