// Package publish sits between the samplers and the MQTT connection. QoS 1
// messages go into a bounded FIFO, optionally mirrored in an on-disk spool,
// and a pool of senders delivers them, waiting out broker outages and
// retrying each message until the broker acknowledges it. Up to
// Options.Inflight messages await their acknowledgement at once, but never
// two of one topic: each topic's messages reach the broker in the order
// they were queued, and a message that failed is sent again before any
// later message of its topic. QoS 0 messages are sent at once while
// connected and dropped (counted) while not. A sampler never waits for the
// broker: Publish only queues.
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

	"github.com/http-connector/http-connector/internal/mqttclient"
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

// DefaultOverflow is the overflow policy when Options.Overflow is not set.
const DefaultOverflow = DropOldest

// DefaultQueueSize is the queue bound when Options.QueueSize is not set.
const DefaultQueueSize = 10000

// DefaultInflight is how many QoS 1 messages may await their
// acknowledgement at once when Options.Inflight is not set.
const DefaultInflight = 64

// Client is the MQTT connection the publisher sends on; *mqttclient.Client
// is one. Publish must return mqttclient.ErrNotConnected while the
// connection is down and, for QoS 1, wait for the acknowledgement; it is
// called by several goroutines at once.
type Client interface {
	Publish(ctx context.Context, m *mqttclient.Message) error
	Connected() bool
	AwaitConnection(ctx context.Context) error
}

// Options configure a Publisher.
type Options struct {
	// QueueSize bounds the QoS 1 messages waiting for delivery (the ones
	// being delivered are not counted). Default DefaultQueueSize.
	QueueSize int
	// Inflight bounds the QoS 1 messages being delivered (sent, or about to
	// be, and awaiting the broker's acknowledgement) at once; the broker's
	// receive maximum may bound them further. Messages of one topic are
	// delivered one at a time whatever it is; 1 delivers the whole queue
	// in order. Default DefaultInflight.
	Inflight int
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
//
// Order. A sender that takes a message owns its topic until it has nothing
// more of that topic to deliver; only the owner sends a topic's messages,
// one at a time, each until it is acknowledged, expired or (connection
// lost) put back. A sender looking for work pops the queue in order;
// a message whose topic is owned by another sender is parked behind that
// topic instead, for its owner. Every parked message is older than every
// message in the queue (it was popped, or put back, or parked by Publish
// while the queue was empty), and a topic's parked messages are in queue
// order, a put-back one in front. So an owner's next message, the head of
// its parked messages, is always the oldest of its topic that is left,
// across retries and reconnects, and a topic's messages reach the broker
// in the order they were queued.
//
// Bound. Parked messages are waiting messages: they count towards
// QueueSize and the overflow policy can drop them. Only the at most
// Inflight messages being delivered are outside the bound.
type Publisher struct {
	client Client
	opts   Options
	log    zerolog.Logger
	c      Counters

	mu       sync.Mutex
	work     sync.Cond        // the queue got a message, or closing or stopped changed
	queue    fifo             // waiting messages of no sender's topic (yet)
	owned    map[string]*fifo // topic → its parked messages (nil: none), for each topic a sender owns
	parked   int              // messages in owned
	free     []*fifo          // empty parked queues to reuse
	inflight int              // messages taken by senders and not yet acknowledged
	seq      uint64
	spool    *spool // nil without SpoolDir
	closing  bool   // Close was called: senders leave when there is nothing to do
	stopped  bool   // Close's deadline passed: senders leave now
	running  int    // senders that have not returned
	overflow struct {
		active  bool
		dropped int64
	}
	outage struct {
		active        bool
		since         time.Time
		sent, expired int
	}
	spoolFailing bool
	qos0Down     bool

	cancel context.CancelFunc
	done   chan struct{} // closed when the last sender returns
	synced chan struct{} // closed when the spool syncer returns
}

// Start opens the spool (replaying what it holds into the queue) and starts
// the senders. They are not stopped by ctx: they keep delivering until
// Close, so that a shutdown can flush the queue. Values of ctx are kept.
func Start(ctx context.Context, client Client, opts Options) (*Publisher, error) {
	if opts.QueueSize == 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.QueueSize < 0 {
		return nil, fmt.Errorf("publish: queue size %d is negative", opts.QueueSize)
	}
	if opts.Inflight == 0 {
		opts.Inflight = DefaultInflight
	}
	if opts.Inflight < 0 {
		return nil, fmt.Errorf("publish: in-flight bound %d is negative", opts.Inflight)
	}
	switch opts.Overflow {
	case "":
		opts.Overflow = DefaultOverflow
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
		owned:  make(map[string]*fifo, opts.Inflight),
		done:   make(chan struct{}),
		synced: make(chan struct{}),
	}
	p.work.L = &p.mu
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
	p.running = opts.Inflight
	for range opts.Inflight {
		go p.send(sctx)
	}
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
	return p.unacknowledged()
}

// SpoolBytes is the size of the spool's files on disk; 0 without a spool.
func (p *Publisher) SpoolBytes() int64 {
	if p.spool == nil {
		return 0
	}
	return p.spool.size.Load()
}

// unacknowledged is Len. Caller holds mu.
func (p *Publisher) unacknowledged() int {
	return p.waiting() + p.inflight
}

// waiting is the number of messages the bound applies to. Caller holds mu.
func (p *Publisher) waiting() int {
	return p.queue.len() + p.parked
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

// push adds e to the waiting messages, applying the overflow policy, and
// wakes a sender if it went into the queue. Caller holds mu.
func (p *Publisher) push(e entry) {
	if p.waiting() >= p.opts.QueueSize {
		if p.opts.Overflow == DropNewest {
			p.dropped(e)
			return
		}
		p.dropped(p.popOldest())
	}
	if p.queue.len() == 0 {
		// A message of a topic being delivered goes straight behind it:
		// with the queue empty it is younger than every parked one, and
		// no sender needs waking.
		if q, ok := p.owned[e.msg.Topic]; ok {
			p.park(e, q)
			return
		}
	}
	p.queue.push(e)
	p.work.Signal()
}

// park puts e behind the parked messages of its topic, which a sender
// owns; q is what owned holds for the topic. Caller holds mu.
func (p *Publisher) park(e entry, q *fifo) {
	if q == nil {
		q = p.parkedQueue(e.msg.Topic)
	}
	q.push(e)
	p.parked++
}

// parkedQueue returns the parked messages of an owned topic, giving it an
// empty queue if it has none. Caller holds mu.
func (p *Publisher) parkedQueue(topic string) *fifo {
	if q := p.owned[topic]; q != nil {
		return q
	}
	var q *fifo
	if n := len(p.free); n > 0 {
		q = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		q = &fifo{}
	}
	p.owned[topic] = q
	return q
}

// popOldest removes the oldest waiting message: parked ones are older than
// the queue's. There is one. Caller holds mu.
func (p *Publisher) popOldest() entry {
	if p.parked == 0 {
		return p.queue.pop()
	}
	var oldest *fifo
	for _, q := range p.owned {
		if q != nil && q.len() > 0 && (oldest == nil || q.front().seq < oldest.front().seq) {
			oldest = q
		}
	}
	p.parked--
	return oldest.pop()
}

// popNewest removes the newest waiting message. There is one. Caller holds
// mu.
func (p *Publisher) popNewest() entry {
	if p.queue.len() > 0 {
		return p.queue.popBack()
	}
	var newest *fifo
	for _, q := range p.owned {
		if q != nil && q.len() > 0 && (newest == nil || q.back().seq > newest.back().seq) {
			newest = q
		}
	}
	p.parked--
	return newest.popBack()
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

// sender is one delivery goroutine's state.
type sender struct {
	topic string // the topic it owns, if owns
	owns  bool
	downs int // consecutive attempts that found the connection down
}

// next reports whether s has something to deliver, waiting until it has.
// It releases s's topic once nothing of it is left. It returns false when
// the publisher stops, or is closing and s has nothing left to do.
func (p *Publisher) next(s *sender) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.stopped {
		if s.owns {
			if q := p.owned[s.topic]; q != nil && q.len() > 0 {
				return true
			}
			p.release(s)
		}
		switch {
		case p.queue.len() > 0:
			return true
		case p.closing:
			return false
		}
		p.work.Wait()
	}
	return false
}

// take returns the message s delivers next: the oldest parked one of its
// topic, else the first in the queue whose topic no other sender owns,
// which s then owns. Caller does not hold mu.
func (p *Publisher) take(s *sender) (entry, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.owns {
		if q := p.owned[s.topic]; q != nil && q.len() > 0 {
			p.parked--
			p.inflight++
			return q.pop(), true
		}
		p.release(s)
	}
	for p.queue.len() > 0 {
		e := p.queue.pop()
		if q, ok := p.owned[e.msg.Topic]; ok {
			p.park(e, q)
			continue
		}
		p.owned[e.msg.Topic] = nil
		s.topic, s.owns = e.msg.Topic, true
		p.inflight++
		return e, true
	}
	return entry{}, false
}

// release gives up s's topic, which has no parked messages. Caller holds mu.
func (p *Publisher) release(s *sender) {
	if q := p.owned[s.topic]; q != nil {
		q.reset()
		p.free = append(p.free, q)
	}
	delete(p.owned, s.topic)
	s.topic, s.owns = "", false
}

// putBack returns s's message to the front of its topic's parked messages:
// the connection is down, and while it is the bound holds for every
// message. s keeps the topic, so the message is its next.
func (p *Publisher) putBack(s *sender, e entry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	p.parkedQueue(s.topic).unshift(e)
	p.parked++
	if p.waiting() <= p.opts.QueueSize {
		return
	}
	if p.opts.Overflow == DropNewest {
		p.dropped(p.popNewest())
	} else {
		p.dropped(p.popOldest())
	}
}

// finish ends a message being delivered: delivered or expired.
func (p *Publisher) finish(e entry, delivered bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	p.forget(e.seq)
	if delivered {
		p.c.Delivered.Add(1)
		p.outage.sent++
	} else {
		p.c.Expired.Add(1)
		p.outage.expired++
	}
	// Hysteresis keeps a queue hovering at its bound from logging on
	// every message.
	if p.overflow.active && p.waiting() <= p.opts.QueueSize-max(1, p.opts.QueueSize/10) {
		p.log.Info().Int64("dropped", p.overflow.dropped).Int("queued", p.waiting()).Msg("publish queue below its bound again")
		p.overflow.active, p.overflow.dropped = false, 0
	}
	if p.outage.active && p.unacknowledged() == 0 {
		p.log.Info().Int("delivered", p.outage.sent).Int("expired", p.outage.expired).Dur("after", time.Since(p.outage.since)).Msg("publish backlog delivered")
		p.outage.active = false
	}
}

// unreachable notes that a sender found the broker unreachable; the first
// of an outage logs it. The connection is looked at again under the lock:
// another sender may have delivered the backlog since this one looked.
func (p *Publisher) unreachable() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outage.active || p.client.Connected() {
		return
	}
	p.outage.active, p.outage.since, p.outage.sent, p.outage.expired = true, time.Now(), 0, 0
	p.log.Warn().Int("queued", p.unacknowledged()).Msg("broker unreachable; queueing QoS 1 messages")
}

// send is one sender: it delivers messages until ctx ends or the publisher
// is closed and has nothing left for it.
func (p *Publisher) send(ctx context.Context) {
	defer p.exit()
	var s sender
	for p.next(&s) {
		if !p.client.Connected() {
			p.unreachable()
			if p.client.AwaitConnection(ctx) != nil {
				return
			}
		}
		e, ok := p.take(&s)
		if !ok {
			continue
		}
		if !p.deliver(ctx, &s, e) {
			return
		}
	}
}

// exit counts a sender out; the last one closes done.
func (p *Publisher) exit() {
	p.mu.Lock()
	p.running--
	last := p.running == 0
	p.mu.Unlock()
	if last {
		close(p.done)
	}
}

// deliver sends e until the broker acknowledges it, it expires or the
// connection is found down (then e is put back). It returns false when ctx
// ended first: e stays in flight, unacknowledged (and in the spool).
func (p *Publisher) deliver(ctx context.Context, s *sender, e entry) bool {
	attempts := 0 // failed attempts while connected
	for {
		m, live := expiry(e, time.Now())
		if !live {
			p.log.Debug().Str("topic", e.msg.Topic).Msg("queued message expired before delivery")
			p.finish(e, false)
			return true
		}
		err := p.client.Publish(ctx, m)
		if err == nil {
			if attempts > 0 {
				p.log.Info().Str("topic", m.Topic).Int("attempts", attempts+1).Msg("message delivered after retries")
			}
			s.downs = 0
			p.finish(e, true)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if mqttclient.IsConnectionError(err) || !p.client.Connected() {
			p.putBack(s, e)
			if s.downs++; s.downs > 1 {
				// The connection flaps, or is up but not ready: do not spin.
				return sleep(ctx, min(10*time.Millisecond<<min(s.downs, 10), time.Second))
			}
			return true
		}
		attempts++
		p.c.Retries.Add(1)
		if attempts == 1 {
			p.log.Warn().Err(err).Str("topic", m.Topic).Msg("publish failed; retrying until the broker acknowledges")
		}
		if !sleep(ctx, min(50*time.Millisecond<<min(attempts-1, 10), 5*time.Second)) {
			return false
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
// ends; then it stops the senders. It returns an error saying how many QoS 1
// messages were left undelivered (kept in the spool when there is one).
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	p.work.Broadcast()
	select {
	case <-p.done:
	case <-ctx.Done():
	}
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.work.Broadcast()
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
			errs = append(errs, &LostError{Messages: left})
		}
	}
	return errors.Join(errs...)
}

// LostError is the error of a Close that ended with QoS 1 messages
// neither delivered nor kept in a spool.
type LostError struct {
	Messages int
}

func (e *LostError) Error() string {
	return fmt.Sprintf("%d QoS 1 messages not delivered before the shutdown deadline; lost (no spool folder is set)", e.Messages)
}

// fifo is a queue of entries.
type fifo struct {
	items []entry
	head  int
}

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) push(e entry) { q.items = append(q.items, e) }

// front and back return the first and the last entry; q is not empty.
func (q *fifo) front() *entry { return &q.items[q.head] }

func (q *fifo) back() *entry { return &q.items[len(q.items)-1] }

// reset empties q, keeping its storage unless it grew large.
func (q *fifo) reset() {
	clear(q.items)
	if cap(q.items) > 1024 {
		q.items = nil
	}
	q.items, q.head = q.items[:0], 0
}

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
