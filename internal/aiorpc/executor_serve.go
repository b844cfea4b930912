package aiorpc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/http-connector/http-connector/internal/mqttclient"
)

// job is one request taken on: either a response ready to send (an error
// found in the request, or a cached response) or a request to run.
type job struct {
	req     mqttclient.Message
	expires time.Time           // no response after it
	reply   *mqttclient.Message // nil: run the handler
	run     CommandRequest
	entry   *cacheEntry // the cache entry this job completes; nil if none
}

// onRequest takes one request on the MQTT receive path. The checks and the
// cache lookup run here, in arrival order; sending and running the handler
// happen in a goroutine, once one of the Concurrency slots is free: while
// none is, onRequest waits, holding back the client's next messages, as the
// Go (internal/concurrency.go) and .NET (ExecutionDispatcher.cs) dispatchers
// hold back theirs.
//
// The request is acknowledged when onRequest returns (mqttclient acks after
// its handler), that is once it is taken on, not once it is answered as the
// SDKs do (they ack after sending the response: Go command_executor.go
// onMsg, .NET CommandExecutor.cs, Rust executor.rs handle_ack): that needs
// manual acknowledgement, which mqttclient does not offer.
func (e *Executor) onRequest(life context.Context, m mqttclient.Message) {
	received := time.Now()
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return // taken after Close: no response, like Rust's closed receiver
	}
	e.wg.Add(1)
	e.mu.Unlock()

	// No (valid) response topic: nowhere to answer, so log, ack and drop
	// (command-errors.md; Go ignoreRequest, .NET TryValidateRequestHeaders,
	// Rust recv).
	if !validReplacement(m.ResponseTopic) {
		e.log.Warn().Str("topic", m.Topic).Str("response_topic", m.ResponseTopic).
			Msg("command request without a valid response topic dropped")
		e.wg.Done()
		return
	}
	e.log.Debug().Str("topic", m.Topic).Str("correlation_id", hex.EncodeToString(m.CorrelationData)).
		Msg("command request received")
	j, ok := e.take(m, received)
	if !ok {
		e.wg.Done()
		return
	}
	select {
	case e.slots <- struct{}{}:
	case <-e.stop:
		if j.entry != nil {
			e.cache.complete(j.entry, nil)
		}
		e.wg.Done()
		return
	}
	go e.serve(life, j)
}

// take checks the request and looks it up in the cache; ok is false when
// there is nothing to do now (a duplicate still under way, or one whose
// original got no response).
func (e *Executor) take(m mqttclient.Message, received time.Time) (j job, ok bool) {
	j = job{req: m}
	// The request ends at its message expiry, counted from its arrival
	// (command-timeouts.md). Without one, .NET still answers the error
	// within its execution timeout.
	if m.MessageExpiry > 0 {
		j.expires = received.Add(time.Duration(m.MessageExpiry) * time.Second)
	} else {
		j.expires = received.Add(e.o.Timeout)
	}
	// Correlation data and message expiry are checked first (Rust recv):
	// they are the cache key and the cache lifetime, so a request that lacks
	// them is answered without being cached.
	if j.reply = e.headerError(&m); j.reply != nil {
		e.refused(j.reply)
		return j, true
	}
	entry, cached, state := e.cache.lookup(m.ResponseTopic, m.CorrelationData, received, j.expires)
	switch state {
	case cacheInFlight:
		return j, false // answered when the original is (complete hands it over)
	case cacheDone:
		// The cached response is sent again as it was, __ts included, with
		// this request's remaining expiry (.NET GenerateAndPublishResponse,
		// Rust process_duplicate_command).
		if j.reply = cached; j.reply == nil {
			return j, false
		}
		e.log.Debug().Str("correlation_id", hex.EncodeToString(m.CorrelationData)).Msg("duplicate command request answered from the cache")
		return j, true
	}
	j.entry = entry
	if j.run, j.reply = e.check(&m); j.reply != nil {
		e.refused(j.reply)
	}
	return j, true
}

// refused logs a request answered with an error before its handler ran.
func (e *Executor) refused(reply *mqttclient.Message) {
	status, _ := reply.Property(PropStatus)
	reason, _ := reply.Property(PropStatusMessage)
	e.log.Warn().Str("status", status).Str("reason", reason).Msg("command request refused")
}

// serve runs one job; it owns one slot and one count of e.wg.
func (e *Executor) serve(life context.Context, j job) {
	defer e.wg.Done()
	defer func() { <-e.slots }()
	if j.reply == nil {
		j.reply = e.execute(life, j)
	}
	var waiting []time.Time
	if j.entry != nil {
		waiting = e.cache.complete(j.entry, j.reply)
	}
	if j.reply == nil {
		return
	}
	e.send(life, j.req, j.reply, j.expires)
	// Duplicates that arrived while the handler ran get the response too:
	// one response per request (rpc-protocol.md; .NET's cache hands them
	// the original's response).
	for _, expires := range waiting {
		e.send(life, j.req, j.reply, expires)
	}
}

type handlerResult struct {
	resp CommandResponse
	err  error
}

// execute runs the handler under the cancellation timeout: min(execution
// timeout, remaining message expiry), counted from the start of execution
// (command-timeouts.md; .NET CmdFunc). It returns the response, or nil when
// none is to be sent.
func (e *Executor) execute(life context.Context, j job) *mqttclient.Message {
	timedOut := time.Now().Add(e.o.Timeout)
	deadline := timedOut
	if j.expires.Before(deadline) {
		deadline = j.expires
	}
	ctx, cancel := context.WithDeadline(life, deadline)
	defer cancel()
	results := make(chan handlerResult, 1)
	e.wg.Add(1)
	go e.callHandler(ctx, j.run, results)
	select {
	case r := <-results:
		return e.handlerReply(r)
	case <-ctx.Done():
	}
	// A handler cut short may still return; its result is ignored
	// (command-timeouts.md, "Execution dispatching"), as the Go SDK's handle
	// ignores it. Close still waits for it.
	switch {
	case life.Err() != nil:
		return nil // Close gave up waiting: no response
	case timedOut.Before(j.expires):
		// The execution timeout fired with expiry left: 408, __propName
		// ExecutionTimeout, __propVal the timeout in ISO 8601
		// (command-errors.md; .NET CommandExecutor.cs CmdFunc).
		e.log.Warn().Dur("timeout", e.o.Timeout).Msg("command handler timed out")
		return e.reply(outcome{
			status:    408,
			message:   fmt.Sprintf("command %s timed out after %s", e.o.CommandName, e.o.Timeout),
			propName:  "ExecutionTimeout",
			propValue: isoDuration(e.o.Timeout),
		})
	default:
		// The message expiry passed: no response (command-errors.md,
		// "message expiry exceeded"; Rust process_command returns).
		e.log.Warn().Msg("command request expired before its handler returned; no response")
		return nil
	}
}

// callHandler runs the handler, turning a panic into an execution error as
// the Go SDK's handle does.
func (e *Executor) callHandler(ctx context.Context, req CommandRequest, out chan<- handlerResult) {
	defer e.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			e.log.Error().Str("panic", fmt.Sprint(p)).Msg("command handler panicked")
			out <- handlerResult{err: fmt.Errorf("command handler panicked: %v", p)}
		}
	}()
	resp, err := e.o.Handle(ctx, req)
	out <- handlerResult{resp: resp, err: err}
}

// handlerReply turns what the handler returned into the response.
func (e *Executor) handlerReply(r handlerResult) *mqttclient.Message {
	var appErr *ApplicationError
	if r.err == nil || errors.As(r.err, &appErr) {
		reserved := reservedResponseProperty(r.resp.UserProperties)
		switch {
		case appErr != nil && appErr.Code == "": // Rust refuses an empty code
			r.err = errors.New("application error without a code")
		case reserved != "":
			r.err = fmt.Errorf("response user property %s is reserved", reserved)
		default:
			// 200 with a payload, 204 without (.NET CmdFunc; Rust
			// process_command; the Go SDK sends 200 always).
			status := 200
			if len(r.resp.Payload) == 0 {
				status = 204
			}
			return e.reply(outcome{status: status, resp: r.resp, appErr: appErr})
		}
	}
	if errors.Is(r.err, ErrInvalidPayload) {
		e.log.Warn().Err(r.err).Msg("command request payload invalid")
		return e.reply(outcome{status: 400, message: r.err.Error()})
	}
	// Any other error is an execution error: 500 with __apErr true and the
	// error text (command-errors.md; Go handle, .NET CmdFunc).
	e.log.Warn().Err(r.err).Msg("command handler failed")
	return e.reply(outcome{status: 500, message: r.err.Error(), appError: true})
}

// send publishes reply to the request's response topic, QoS 1, with its
// correlation data, and with the request's remaining expiry rounded up to
// seconds; when none remains, nothing is sent (command-timeouts.md; Rust
// get_response_message_expiry_interval rounds up, .NET rounds down).
func (e *Executor) send(life context.Context, req mqttclient.Message, reply *mqttclient.Message, expires time.Time) {
	if life.Err() != nil {
		return // Close gave up waiting: no response
	}
	expiry, ok := responseExpiry(expires, time.Now())
	if !ok {
		e.log.Warn().Msg("command request expired; no response")
		return
	}
	out := *reply
	out.Topic = req.ResponseTopic
	out.CorrelationData = req.CorrelationData
	out.QoS = 1
	out.MessageExpiry = expiry
	ctx, cancel := context.WithDeadline(life, expires)
	defer cancel()
	if err := e.client.Publish(ctx, &out); err != nil {
		e.log.Error().Err(err).Str("response_topic", out.Topic).Msg("command response not sent")
		return
	}
	status, _ := out.Property(PropStatus)
	e.log.Debug().Str("status", status).Str("correlation_id", hex.EncodeToString(out.CorrelationData)).Msg("command response sent")
}

// responseExpiry is the message expiry of a response sent at now to a
// request that expires at expires, in whole seconds rounded up; ok is false
// when the request has expired.
func responseExpiry(expires, now time.Time) (uint32, bool) {
	left := expires.Sub(now)
	if left <= 0 {
		return 0, false
	}
	secs := (left + time.Second - 1) / time.Second
	return uint32(min(secs, 1<<32-1)), true
}
