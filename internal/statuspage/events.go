package statuspage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

const (
	// eventInterval is how often the broadcaster takes a snapshot while
	// someone watches; a stream sends at most one event per interval.
	eventInterval = time.Second
	// keepAliveTicks: a stream whose view has not changed for this many
	// intervals sends a comment, so that proxies keep it open and a
	// vanished browser is noticed.
	keepAliveTicks = 15
	// eventWriteTimeout bounds one write to a stream: a browser that
	// stops reading is dropped instead of holding its handler.
	eventWriteTimeout = 10 * time.Second
)

// hub hands snapshots to the event streams. Its broadcaster runs only
// while at least one stream is open: the first subscriber starts it, the
// last one to leave stops it, and so does close.
type hub struct {
	snaps *snapshots

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	stop   chan struct{} // closed to stop the running broadcaster; nil if none runs
	done   chan struct{} // closed when it has stopped
	closed bool
}

// subscriber is one event stream's mailbox: it holds the latest snapshot
// the stream has not taken yet, and is closed when the hub closes.
type subscriber struct {
	c chan *snapshot
}

func newHub(snaps *snapshots) *hub {
	return &hub{snaps: snaps, subs: map[*subscriber]struct{}{}}
}

var errClosed = errors.New("the status page is closed")

// subscribe adds a stream, starting the broadcaster if it is the first.
func (h *hub) subscribe() (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	s := &subscriber{c: make(chan *snapshot, 1)}
	h.subs[s] = struct{}{}
	if h.stop == nil {
		h.stop, h.done = make(chan struct{}), make(chan struct{})
		go h.broadcast(h.stop, h.done)
	}
	return s, nil
}

// unsubscribe removes a stream; when it was the last, it stops the
// broadcaster and waits for it.
func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	delete(h.subs, s)
	if len(h.subs) > 0 || h.stop == nil {
		h.mu.Unlock()
		return
	}
	done := h.halt()
	h.mu.Unlock()
	<-done
}

// close ends every stream and stops the broadcaster for good.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for s := range h.subs {
		close(s.c)
		delete(h.subs, s)
	}
	var done chan struct{}
	if h.stop != nil {
		done = h.halt()
	}
	h.mu.Unlock()
	if done != nil {
		<-done
	}
}

// halt tells the broadcaster to stop and returns what closes when it has;
// h.mu is held.
func (h *hub) halt() chan struct{} {
	close(h.stop)
	done := h.done
	h.stop, h.done = nil, nil
	return done
}

// broadcast takes a snapshot every eventInterval and offers it to every
// stream, until stop closes.
func (h *hub) broadcast(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(eventInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		snap := h.snaps.get()
		h.mu.Lock()
		select {
		case <-stop:
			h.mu.Unlock()
			return
		default:
		}
		for s := range h.subs {
			select { // replace a snapshot the stream has not taken yet
			case <-s.c:
			default:
			}
			s.c <- snap
		}
		h.mu.Unlock()
	}
}

// eventJSON is one event of /api/events: what the page shows for the
// stream's query.
type eventJSON struct {
	Connector connectorJSON `json:"connector"`
	Datasets  listJSON      `json:"datasets"`
}

// serveEvents streams the view that the query asks for (the same query
// as /api/datasets) as server-sent events: one "view" event at once, then
// one whenever the view changed, at most one per eventInterval.
func (p *Page) serveEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	sub, err := p.events.subscribe()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	defer p.events.unsubscribe(sub)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no") // no buffering by a proxy
	w.WriteHeader(http.StatusOK)
	stream := &eventStream{w: w, rc: rc, query: q}
	if err := stream.write([]byte("retry: 2000\n\n")); err != nil {
		return
	}
	snap := p.snaps.get()
	for {
		if err := stream.send(snap); err != nil {
			return
		}
		var ok bool
		select {
		case <-r.Context().Done():
			return
		case snap, ok = <-sub.c:
			if !ok {
				return
			}
		}
	}
}

// eventStream is one open /api/events answer.
type eventStream struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	query listQuery
	last  []byte // the view last sent, without its time
	quiet int    // snapshots since it was sent
}

// send writes the view of snap if it differs from the last one sent,
// else now and then a keep-alive comment.
func (s *eventStream) send(snap *snapshot) error {
	ev := eventJSON{Connector: connectorView(&snap.connector, len(snap.datasets)), Datasets: snap.list(s.query)}
	view, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if s.last != nil && bytes.Equal(view, s.last) {
		if s.quiet++; s.quiet%keepAliveTicks == 0 {
			return s.write([]byte(": keep-alive\n\n"))
		}
		return nil
	}
	s.last, s.quiet = view, 0
	ev.Connector.Now = timeText(snap.taken)
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return s.write(fmt.Appendf(nil, "event: view\ndata: %s\n\n", data))
}

func (s *eventStream) write(b []byte) error {
	// Not every ResponseWriter has deadlines (a test's recorder); where
	// one has, a stuck browser is dropped.
	_ = s.rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("write event: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush event: %w", err)
	}
	return nil
}
