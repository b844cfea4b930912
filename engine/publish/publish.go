// Package publish sits between the samplers and the MQTT connection. QoS 1
// messages go into a bounded FIFO, optionally mirrored in an on-disk spool,
// and one sender delivers them in order, waiting out broker outages and
// retrying each message until the broker acknowledges it. QoS 0 messages
// are sent at once while connected and dropped (counted) while not. A
// sampler never waits for the broker: Publish only queues.
//
// When the queue is full the overflow policy drops the oldest or the newest
// waiting message; each overflow episode is logged once when it starts and
// once when the queue is below its bound again.
package publish

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/engine/mqttclient"
)

// Overflow is what happens to a QoS 1 message that finds the queue full.
type Overflow string

// Overflow policies.
const (
	// DropOldest drops the oldest waiting message to make room.
	DropOldest Overflow = "dropOldest"
	// DropNewest drops the message being published.
	DropNewest Overflow = "dropNewest"
)

// DefaultQueueSize is the queue bound when Options.QueueSize is not set.
const DefaultQueueSize = 10000

// Client is the MQTT connection the publisher sends on; *mqttclient.Client
// is one. Publish must return mqttclient.ErrNotConnected while the
// connection is down and, for QoS 1, wait for the acknowledgement.
type Client interface {
	Publish(ctx context.Context, m *mqttclient.Message) error
	Connected() bool
	AwaitConnection(ctx context.Context) error
}

// Options configure a Publisher.
type Options struct {
	// QueueSize bounds the QoS 1 messages waiting for delivery (the one
	// being delivered is not counted). Default DefaultQueueSize.
	QueueSize int
	// Overflow is the policy when the queue is full. Default DropOldest.
	Overflow Overflow
	// SpoolDir, if set, is a folder where queued messages are also kept, so
	// that a restart loses none: they are replayed by Start and removed once
	// acknowledged. One publisher at a time may use a folder.
	SpoolDir string
	// SyncInterval is how often spooled data is flushed to stable storage
	// (fsync). Records reach the operating system at once, so a crash of
	// the process loses nothing; a power cut loses at most this much.
	// Default 1 s.
	SyncInterval time.Duration
	Logger       zerolog.Logger
}

// Counters are the publisher's running totals.
type Counters struct {
	Queued      atomic.Int64 // QoS 1 messages accepted into the queue
	Delivered   atomic.Int64 // QoS 1 messages the broker acknowledged
	Dropped     atomic.Int64 // QoS 1 messages dropped by the overflow policy
	Expired     atomic.Int64 // QoS 1 messages whose expiry interval ran out in the queue
	Retries     atomic.Int64 // failed delivery attempts while connected
	Sent        atomic.Int64 // QoS 0 messages sent
	DroppedQoS0 atomic.Int64 // QoS 0 messages dropped while disconnected
	Replayed    atomic.Int64 // messages read back from the spool by Start
	SpoolErrors atomic.Int64 // failed spool writes (the message stays queued in memory)
}

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("publisher closed")

// entry is a queued QoS 1 message.
type entry struct {
	seq uint64
	at  time.Time // when it was queued
	msg *mqttclient.Message
}

// Publisher queues and delivers messages. It is safe for concurrent use.
type Publisher struct {
	client Client
	opts   Options
	log    zerolog.Logger
	c      Counters

	mu       sync.Mutex
	queue    fifo
	inflight *entry // taken by the sender, not yet acknowledged
	seq      uint64
	spool    *spool // nil without SpoolDir
	closing  bool
	overflow struct {
		active  bool
		dropped int64
	}
	spoolFailing bool
	qos0Down     bool

	wake   chan struct{} // the sender has work or must look at closing
	cancel context.CancelFunc
	done   chan struct{} // closed when the sender returns
	synced chan struct{} // closed when the spool syncer returns
}

// Start opens the spool (replaying what it holds into the queue) and starts
// the sender. The sender is not stopped by ctx: it keeps delivering until
// Close, so that a shutdown can flush the queue. Values of ctx are kept.
func Start(ctx context.Context, client Client, opts Options) (*Publisher, error) {
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.QueueSize < 0 {
		return nil, fmt.Errorf("publish: queue size %d is negative", opts.QueueSize)
	}
	switch opts.Overflow {
	case "":
		opts.Overflow = DropOldest
	case DropOldest, DropNewest:
	default:
		return nil, fmt.Errorf("publish: overflow policy %q is not %s or %s", opts.Overflow, DropOldest, DropNewest)
	}
	if opts.SyncInterval <= 0 {
		opts.SyncInterval = time.Second
	}
	p := &Publisher{
		client: client,
		opts:   opts,
		log:    opts.Logger,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		synced: make(chan struct{}),
	}
	if opts.SpoolDir != "" {
		sp, replay, err := openSpool(opts.SpoolDir, p.log)
		if err != nil {
			return nil, err
		}
		p.spool = sp
		p.seq = sp.next - 1
		for i := range replay {
			p.push(replay[i])
		}
		p.c.Replayed.Store(int64(len(replay)))
		if len(replay) > 0 {
			p.log.Info().Int("messages", len(replay)).Str("spool", opts.SpoolDir).Msg("replaying spooled messages")
		}
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	go p.send(sctx)
	if p.spool != nil {
		go p.syncLoop(sctx)
	} else {
		close(p.synced)
	}
	return p, nil
}

// Counters returns the running totals.
func (p *Publisher) Counters() *Counters { return &p.c }

// Len is the number of QoS 1 messages not yet acknowledged.
func (p *Publisher) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.queue.len()
	if p.inflight != nil {
		n++
	}
	return n
}

// Publish queues a QoS 1 message for delivery, or sends a QoS 0 message if
// the broker is connected (and drops it, counted, if not). It does not wait
// for the broker. m must not be changed afterwards.
func (p *Publisher) Publish(ctx context.Context, m *mqttclient.Message) error {
	if m.QoS == 0 {
		return p.publish0(ctx, m)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return ErrClosed
	}
	p.seq++
	e := entry{seq: p.seq, at: time.Now(), msg: m}
	if p.spool != nil {
		err := p.spool.append(e)
		switch {
		case err != nil:
			p.c.SpoolErrors.Add(1)
			if !p.spoolFailing {
				p.spoolFailing = true
				p.log.Error().Err(err).Msg("spool write failed; queued messages are kept in memory only")
			}
		case p.spoolFailing:
			p.spoolFailing = false
			p.log.Info().Msg("spool writes work again")
		}
	}
	p.c.Queued.Add(1)
	p.push(e)
	p.poke()
	return nil
}

func (p *Publisher) publish0(ctx context.Context, m *mqttclient.Message) error {
	p.mu.Lock()
	closing := p.closing
	p.mu.Unlock()
	if closing {
		return ErrClosed
	}
	if p.client.Connected() {
		err := p.client.Publish(ctx, m)
		if err == nil {
			p.c.Sent.Add(1)
			p.mu.Lock()
			p.qos0Down = false
			p.mu.Unlock()
			return nil
		}
		if !errors.Is(err, mqttclient.ErrNotConnected) && p.client.Connected() {
			return err
		}
	}
	p.c.DroppedQoS0.Add(1)
	p.mu.Lock()
	first := !p.qos0Down
	p.qos0Down = true
	p.mu.Unlock()
	if first {
		p.log.Warn().Str("topic", m.Topic).Msg("broker unreachable; dropping QoS 0 messages until it is back")
	}
	return nil
}

// push adds e to the queue, applying the overflow policy. Caller holds mu.
func (p *Publisher) push(e entry) {
	if p.queue.len() < p.opts.QueueSize {
		p.queue.push(e)
		return
	}
	var victim entry
	if p.opts.Overflow == DropNewest || p.queue.len() == 0 {
		victim = e
	} else {
		victim = p.queue.pop()
		p.queue.push(e)
	}
	p.dropped(victim)
}

// dropped counts and forgets a message dropped by the overflow policy.
// Caller holds mu.
func (p *Publisher) dropped(victim entry) {
	p.c.Dropped.Add(1)
	p.overflow.dropped++
	if !p.overflow.active {
		p.overflow.active = true
		p.log.Warn().Int("queue_size", p.opts.QueueSize).Str("overflow", string(p.opts.Overflow)).Msg("publish queue full; dropping messages")
	}
	p.forget(victim.seq)
}

// forget removes a message from the spool. Caller holds mu.
func (p *Publisher) forget(seq uint64) {
	if p.spool == nil {
		return
	}
	if err := p.spool.remove(seq); err != nil {
		p.c.SpoolErrors.Add(1)
		p.log.Warn().Err(err).Msg("spool: could not record a delivered message; it may be sent again after a restart")
	}
}

func (p *Publisher) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// wait blocks until there is a message to deliver. It returns false when
// ctx ends or the publisher is closing with nothing left.
func (p *Publisher) wait(ctx context.Context) bool {
	for {
		p.mu.Lock()
		work := p.inflight != nil || p.queue.len() > 0
		closing := p.closing
		p.mu.Unlock()
		switch {
		case work:
			return true
		case closing:
			return false
		}
		select {
		case <-p.wake:
		case <-ctx.Done():
			return false
		}
	}
}

// take returns the message to deliver: the one in flight, else the head of
// the queue, which becomes the one in flight.
func (p *Publisher) take() (entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight == nil {
		if p.queue.len() == 0 {
			return entry{}, false
		}
		e := p.queue.pop()
		p.inflight = &e
	}
	return *p.inflight, true
}

// putBack returns the in-flight message to the head of the queue: the
// connection is down, and while it is the bound holds for every message.
func (p *Publisher) putBack() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight == nil {
		return
	}
	e := *p.inflight
	p.inflight = nil
	if p.queue.len() < p.opts.QueueSize {
		p.queue.unshift(e)
		return
	}
	victim := e
	if p.opts.Overflow == DropNewest {
		victim = p.queue.popBack()
		p.queue.unshift(e)
	}
	p.dropped(victim)
}

// finish ends the in-flight message: delivered or expired.
func (p *Publisher) finish(e entry, delivered bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight = nil
	p.forget(e.seq)
	if delivered {
		p.c.Delivered.Add(1)
	} else {
		p.c.Expired.Add(1)
	}
	// Hysteresis keeps a queue hovering at its bound from logging on
	// every message.
	if p.overflow.active && p.queue.len() <= p.opts.QueueSize-max(1, p.opts.QueueSize/10) {
		p.log.Info().Int64("dropped", p.overflow.dropped).Int("queued", p.queue.len()).Msg("publish queue below its bound again")
		p.overflow.active, p.overflow.dropped = false, 0
	}
}

// send is the sender: it delivers the queue in order until ctx ends or the
// publisher is closed and empty.
func (p *Publisher) send(ctx context.Context) {
	defer close(p.done)
	var (
		attempts int // failed attempts of this message while connected
		downs    int // consecutive attempts that found the connection down
		outage   struct {
			active  bool
			since   time.Time
			sent    int
			expired int
		}
	)
	for p.wait(ctx) {
		if !p.client.Connected() {
			if !outage.active {
				outage.active, outage.since, outage.sent, outage.expired = true, time.Now(), 0, 0
				p.log.Warn().Int("queued", p.Len()).Msg("broker unreachable; queueing QoS 1 messages")
			}
			if p.client.AwaitConnection(ctx) != nil {
				return
			}
		}
		e, ok := p.take()
		if !ok {
			continue
		}
		m, live := expiry(e, time.Now())
		if !live {
			p.log.Debug().Str("topic", e.msg.Topic).Msg("queued message expired before delivery")
			p.finish(e, false)
			outage.expired++
			continue
		}
		err := p.client.Publish(ctx, m)
		if err == nil {
			if attempts > 0 {
				p.log.Info().Str("topic", m.Topic).Int("attempts", attempts+1).Msg("message delivered after retries")
			}
			attempts, downs = 0, 0
			p.finish(e, true)
			if outage.active {
				outage.sent++
				if p.Len() == 0 {
					p.log.Info().Int("delivered", outage.sent).Int("expired", outage.expired).Dur("after", time.Since(outage.since)).Msg("publish backlog delivered")
					outage.active = false
				}
			}
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if mqttclient.IsConnectionError(err) || !p.client.Connected() {
			attempts = 0
			p.putBack()
			if downs++; downs > 1 {
				// The connection flaps, or is up but not ready: do not spin.
				if !sleep(ctx, min(10*time.Millisecond<<min(downs, 10), time.Second)) {
					return
				}
			}
			continue
		}
		attempts++
		p.c.Retries.Add(1)
		if attempts == 1 {
			p.log.Warn().Err(err).Str("topic", m.Topic).Msg("publish failed; retrying until the broker acknowledges")
		}
		if !sleep(ctx, min(50*time.Millisecond<<min(attempts-1, 10), 5*time.Second)) {
			return
		}
	}
}

// expiry returns the message to send for e, with its expiry interval
// reduced by the time it waited, or false if the interval ran out.
func expiry(e entry, now time.Time) (*mqttclient.Message, bool) {
	if e.msg.MessageExpiry == 0 {
		return e.msg, true
	}
	waited := uint64(now.Sub(e.at) / time.Second)
	if waited == 0 {
		return e.msg, true
	}
	if waited >= uint64(e.msg.MessageExpiry) {
		return nil, false
	}
	m := *e.msg
	m.MessageExpiry -= uint32(waited)
	return &m, true
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Publisher) syncLoop(ctx context.Context) {
	defer close(p.synced)
	t := time.NewTicker(p.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.mu.Lock()
			job := p.spool.takeSync()
			p.mu.Unlock()
			if err := job.run(); err != nil {
				p.c.SpoolErrors.Add(1)
				p.log.Warn().Err(err).Msg("spool sync failed")
			}
		}
	}
}

// Close stops accepting messages and delivers what is queued until ctx
// ends; then it stops the sender. It returns an error saying how many QoS 1
// messages were left undelivered (kept in the spool when there is one).
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	p.poke()
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	p.cancel()
	<-p.done
	<-p.synced
	left := p.Len()
	var errs []error
	if p.spool != nil {
		p.mu.Lock()
		err := p.spool.close()
		p.mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if left > 0 {
		if p.spool != nil {
			errs = append(errs, fmt.Errorf("%d QoS 1 messages not delivered before the shutdown deadline; kept in the spool %s", left, p.opts.SpoolDir))
		} else {
			errs = append(errs, fmt.Errorf("%d QoS 1 messages not delivered before the shutdown deadline; lost (no spool folder is set)", left))
		}
	}
	return errors.Join(errs...)
}

// fifo is a queue of entries.
type fifo struct {
	items []entry
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(e entry) { q.items = append(q.items, e) }

func (q *fifo) unshift(e entry) {
	if q.head > 0 {
		q.head--
		q.items[q.head] = e
		return
	}
	q.items = append(q.items, entry{})
	copy(q.items[1:], q.items)
	q.items[0] = e
}

func (q *fifo) popBack() entry {
	n := len(q.items) - 1
	e := q.items[n]
	q.items[n] = entry{}
	q.items = q.items[:n]
	if len(q.items) == q.head {
		q.items, q.head = q.items[:0], 0
	}
	return e
}

func (q *fifo) pop() entry {
	e := q.items[q.head]
	q.items[q.head] = entry{}
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head >= 1024 && q.head*2 >= len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return e
}
