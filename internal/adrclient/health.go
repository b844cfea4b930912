package adrclient

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
)

// DefaultHealthPeriod is how often cached runtime health is sent again.
const DefaultHealthPeriod = 10 * time.Second

// healthExpiry is the message expiry of runtime-health telemetry.
const healthExpiry = 10 * time.Second

// healthCache holds the last report per key and applies the ADR caching
// rules: the first report and any change are sent at once, a report equal
// but for lastUpdateTime only refreshes the cache, a report for an older
// version is dropped, and Run sends the cache again every period.
type healthCache struct {
	period time.Duration
	now    func() time.Time
	send   func(ctx context.Context, reports map[string]adr.RuntimeHealth) error
	log    zerolog.Logger

	mu      sync.Mutex
	entries map[string]adr.RuntimeHealth
}

func (h *healthCache) report(ctx context.Context, key string, rh adr.RuntimeHealth) error {
	if rh.LastUpdateTime.IsZero() {
		rh.LastUpdateTime = h.now()
	}
	h.mu.Lock()
	cached, ok := h.entries[key]
	switch {
	case ok && rh.Version < cached.Version:
		h.mu.Unlock()
		return nil
	case ok && sameHealth(cached, rh):
		h.entries[key] = rh
		h.mu.Unlock()
		return nil
	}
	h.entries[key] = rh
	h.mu.Unlock()
	// A failed send stays cached, so Run sends it again.
	return h.send(ctx, map[string]adr.RuntimeHealth{key: rh})
}

func sameHealth(a, b adr.RuntimeHealth) bool {
	return a.Version == b.Version && a.Status == b.Status && a.Message == b.Message && a.ReasonCode == b.ReasonCode
}

// pause forgets every cached report, so nothing is re-sent until the next
// report; the service then ages the health to Unknown.
func (h *healthCache) pause() {
	h.mu.Lock()
	clear(h.entries)
	h.mu.Unlock()
}

// run re-sends the cached reports every period, with lastUpdateTime now,
// until ctx ends.
func (h *healthCache) run(ctx context.Context) {
	t := time.NewTicker(h.period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := h.now()
		h.mu.Lock()
		batch := make(map[string]adr.RuntimeHealth, len(h.entries))
		for k, rh := range h.entries {
			rh.LastUpdateTime = now
			h.entries[k] = rh
			batch[k] = rh
		}
		h.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		if err := h.send(ctx, batch); err != nil && ctx.Err() == nil {
			h.log.Warn().Err(err).Msg("runtime health resend failed")
		}
	}
}

// EndpointHealth reports the runtime health of one device inbound endpoint.
type EndpointHealth struct {
	cache *healthCache
}

// NewEndpointHealth returns the runtime-health reporter of a device endpoint;
// period (default DefaultHealthPeriod) is the resend interval of Run.
func (c *Client) NewEndpointHealth(device, endpoint string, period time.Duration) *EndpointHealth {
	topic := TelemetryTopic(c.clientID, device, endpoint, TelemetryDeviceEndpointHealth)
	return &EndpointHealth{cache: c.newHealthCache(period, func(ctx context.Context, reports map[string]adr.RuntimeHealth) error {
		type event struct {
			RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
		}
		payload, err := json.Marshal(struct {
			Event event `json:"deviceEndpointRuntimeHealthEvent"`
		}{event{reports[""]}})
		if err != nil {
			return err
		}
		return c.sendHealth(ctx, topic, payload)
	}, c.log.With().Str("device", device).Str("endpoint", endpoint).Logger())}
}

// Report sends rh if it is new or changed (see the caching rules); a zero
// LastUpdateTime is set to now.
func (h *EndpointHealth) Report(ctx context.Context, rh adr.RuntimeHealth) error {
	return h.cache.report(ctx, "", rh)
}

// Pause stops re-sending until the next Report, as after a definition update.
func (h *EndpointHealth) Pause() { h.cache.pause() }

// Run re-sends the last report every period until ctx ends. The owner runs
// it in a goroutine and waits for it.
func (h *EndpointHealth) Run(ctx context.Context) { h.cache.run(ctx) }

// DatasetHealth reports the runtime health of the datasets of one asset.
type DatasetHealth struct {
	cache *healthCache
}

// NewDatasetHealth returns the runtime-health reporter of an asset's
// datasets; period (default DefaultHealthPeriod) is the resend interval of
// Run.
func (c *Client) NewDatasetHealth(device, endpoint, asset string, period time.Duration) *DatasetHealth {
	topic := TelemetryTopic(c.clientID, device, endpoint, TelemetryDatasetHealth)
	return &DatasetHealth{cache: c.newHealthCache(period, func(ctx context.Context, reports map[string]adr.RuntimeHealth) error {
		type dataset struct {
			DatasetName   string            `json:"datasetName"`
			RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
		}
		type event struct {
			AssetName string    `json:"assetName"`
			Datasets  []dataset `json:"datasets"`
		}
		ev := event{AssetName: asset}
		for name, rh := range reports {
			ev.Datasets = append(ev.Datasets, dataset{name, rh})
		}
		sort.Slice(ev.Datasets, func(i, j int) bool { return ev.Datasets[i].DatasetName < ev.Datasets[j].DatasetName })
		payload, err := json.Marshal(struct {
			Event event `json:"datasetRuntimeHealthEvent"`
		}{ev})
		if err != nil {
			return err
		}
		return c.sendHealth(ctx, topic, payload)
	}, c.log.With().Str("device", device).Str("endpoint", endpoint).Str("asset", asset).Logger())}
}

// Report sends a dataset's rh if it is new or changed for that dataset; a
// zero LastUpdateTime is set to now.
func (h *DatasetHealth) Report(ctx context.Context, dataset string, rh adr.RuntimeHealth) error {
	return h.cache.report(ctx, dataset, rh)
}

// Pause stops re-sending until the next Report, as after a definition update.
func (h *DatasetHealth) Pause() { h.cache.pause() }

// Run re-sends the last report of every dataset, in one message, every
// period until ctx ends. The owner runs it in a goroutine and waits for it.
func (h *DatasetHealth) Run(ctx context.Context) { h.cache.run(ctx) }

// ActionHealth reports the runtime health of the management actions of one
// asset (managementActionRuntimeHealthEvent).
type ActionHealth struct {
	cache *healthCache
}

// NewActionHealth returns the runtime-health reporter of an asset's
// management actions; period is the resend interval of Run.
func (c *Client) NewActionHealth(device, endpoint, asset string, period time.Duration) *ActionHealth {
	topic := TelemetryTopic(c.clientID, device, endpoint, TelemetryActionHealth)
	return &ActionHealth{cache: c.newHealthCache(period, func(ctx context.Context, reports map[string]adr.RuntimeHealth) error {
		type action struct {
			Group         string            `json:"managementGroupName"`
			Action        string            `json:"managementActionName"`
			RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
		}
		type event struct {
			AssetName string   `json:"assetName"`
			Actions   []action `json:"managementActions"`
		}
		ev := event{AssetName: asset}
		for key, rh := range reports {
			group, name, _ := strings.Cut(key, "::")
			ev.Actions = append(ev.Actions, action{group, name, rh})
		}
		sort.Slice(ev.Actions, func(i, j int) bool {
			return ev.Actions[i].Group+"::"+ev.Actions[i].Action < ev.Actions[j].Group+"::"+ev.Actions[j].Action
		})
		payload, err := json.Marshal(struct {
			Event event `json:"managementActionRuntimeHealthEvent"`
		}{ev})
		if err != nil {
			return err
		}
		return c.sendHealth(ctx, topic, payload)
	}, c.log.With().Str("device", device).Str("endpoint", endpoint).Str("asset", asset).Logger())}
}

// Report sends an action's rh (the action named "<group>::<action>") if it
// is new or changed.
func (h *ActionHealth) Report(ctx context.Context, command string, rh adr.RuntimeHealth) error {
	return h.cache.report(ctx, command, rh)
}

// Run re-sends the last reports every period until ctx ends.
func (h *ActionHealth) Run(ctx context.Context) { h.cache.run(ctx) }

func (c *Client) newHealthCache(period time.Duration, send func(context.Context, map[string]adr.RuntimeHealth) error, log zerolog.Logger) *healthCache {
	if period <= 0 {
		period = DefaultHealthPeriod
	}
	return &healthCache{
		period:  period,
		now:     func() time.Time { return time.Now().UTC() },
		send:    send,
		log:     log,
		entries: make(map[string]adr.RuntimeHealth),
	}
}

func (c *Client) sendHealth(ctx context.Context, topic string, payload []byte) error {
	if err := c.tel.Send(ctx, topic, payload, 1, healthExpiry); err != nil {
		return fmt.Errorf("runtime health: %w", err)
	}
	return nil
}
