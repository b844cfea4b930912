package mqttclient

import (
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// TestPacketStore: a packet read back is the packet as it was sent, and the
// packets are listed in the order they were put.
func TestPacketStore(t *testing.T) {
	s := newPacketStore()
	payload := []byte(`{"currentTemperature":71.3}`)
	for _, id := range []uint16{9, 2, 5} {
		p := &packets.Publish{PacketID: id, QoS: 1, Topic: "t/1", Payload: payload, Properties: &packets.Properties{ContentType: "application/json"}}
		if err := s.Put(id, packets.PUBLISH, p); err != nil {
			t.Fatal(err)
		}
	}
	ids, _ := s.List()
	if !slices.Equal(ids, []uint16{9, 2, 5}) {
		t.Errorf("List = %v, want the order of Put", ids)
	}
	r, err := s.Get(2)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r)
	cp, err := packets.ReadPacket(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	got := cp.Content.(*packets.Publish)
	if got.PacketID != 2 || got.Topic != "t/1" || !bytes.Equal(got.Payload, payload) || got.Properties.ContentType != "application/json" || got.QoS != 1 {
		t.Errorf("read back %+v", got)
	}
	if err := s.Delete(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(2); err == nil {
		t.Error("deleting a packet twice is not reported")
	}
	if _, err := s.Get(2); err == nil {
		t.Error("a deleted packet is still there")
	}
	s.Reset()
	if ids, _ := s.List(); len(ids) != 0 {
		t.Errorf("after Reset: %v", ids)
	}
}
