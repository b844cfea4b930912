package mqttclient

import (
	"context"
	"io"
	"net/url"
	"testing"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/broker"
)

// benchMessage is a message as a sample publishes it.
func benchMessage() *Message {
	return &Message{
		Topic:         "bench/thermostat/17/status",
		Payload:       []byte(`{"currentTemperature":71.3,"desiredTemperature":72.5}`),
		QoS:           1,
		MessageExpiry: 60,
		ContentType:   "application/json",
		UTF8Payload:   true,
	}
}

// BenchmarkPublish publishes QoS 1 messages to the embedded broker (in this
// process: its allocations count too) and waits for each PUBACK; parallel
// publishers are what a connector with many datasets has.
func BenchmarkPublish(b *testing.B) {
	br, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	u, _ := url.Parse(br.URL())
	ctx := context.Background()
	c, err := Connect(ctx, Options{Servers: []*url.URL{u}, ClientID: "bench-publisher", KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.AwaitConnection(ctx); err != nil {
		b.Fatal(err)
	}
	m := benchMessage()
	b.Run("qos1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Publish(ctx, m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("qos1/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Publish(ctx, m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkEncodePublish is the message's conversion and its PUBLISH
// packet's encoding, without the network.
func BenchmarkEncodePublish(b *testing.B) {
	m := benchMessage()
	b.ReportAllocs()
	for b.Loop() {
		pkt := toPaho(m).Packet()
		pkt.PacketID = 1
		if _, err := pkt.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
