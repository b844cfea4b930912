package adrclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/http-connector/http-connector/internal/adr"
)

// StatusReporter writes device and asset statuses by read-modify-write, as
// the service replaces the whole status on every update. Updates of one
// resource are serialized. An update whose result differs from the base only
// in config.lastTransitionTime is skipped. The asset status last written is
// kept as the base of the next update, because the service may not read its
// own writes; device statuses are read from the service each time.
type StatusReporter struct {
	c *Client

	mu     sync.Mutex
	locks  map[string]*keyLock
	assets map[string]adr.AssetStatus // last written, by asset key
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// NewStatusReporter returns a status reporter using c.
func NewStatusReporter(c *Client) *StatusReporter {
	return &StatusReporter{c: c, locks: make(map[string]*keyLock), assets: make(map[string]adr.AssetStatus)}
}

func (r *StatusReporter) lock(key string) func() {
	r.mu.Lock()
	l, ok := r.locks[key]
	if !ok {
		l = &keyLock{}
		r.locks[key] = l
	}
	l.refs++
	r.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		r.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(r.locks, key)
		}
		r.mu.Unlock()
	}
}

func deviceKey(device, endpoint string) string { return "d\x00" + device + "\x00" + endpoint }

func assetKey(device, endpoint, asset string) string {
	return "a\x00" + device + "\x00" + endpoint + "\x00" + asset
}

// UpdateDevice reads the device status, applies mutate to a copy and writes
// it back unless nothing but config.lastTransitionTime changed. It reports
// whether it wrote.
func (r *StatusReporter) UpdateDevice(ctx context.Context, device, endpoint string, mutate func(*adr.DeviceStatus)) (bool, error) {
	defer r.lock(deviceKey(device, endpoint))()
	base, err := r.c.GetDeviceStatus(ctx, device, endpoint)
	if err != nil {
		return false, fmt.Errorf("update device status: %w", err)
	}
	next, err := clone(base)
	if err != nil {
		return false, fmt.Errorf("update device status: %w", err)
	}
	mutate(&next)
	if same, err := sameDeviceStatus(base, next); err != nil || same {
		return false, err
	}
	if _, err := r.c.UpdateDeviceStatus(ctx, device, endpoint, next); err != nil {
		return false, fmt.Errorf("update device status: %w", err)
	}
	return true, nil
}

// UpdateAsset applies mutate to a copy of the asset status last written (or,
// the first time, read from the service) and writes it unless nothing but
// config.lastTransitionTime changed. It reports whether it wrote.
func (r *StatusReporter) UpdateAsset(ctx context.Context, device, endpoint, asset string, mutate func(*adr.AssetStatus)) (bool, error) {
	key := assetKey(device, endpoint, asset)
	defer r.lock(key)()
	r.mu.Lock()
	base, cached := r.assets[key]
	r.mu.Unlock()
	if !cached {
		var err error
		if base, err = r.c.GetAssetStatus(ctx, device, endpoint, asset); err != nil {
			return false, fmt.Errorf("update asset status: %w", err)
		}
	}
	next, err := clone(base)
	if err != nil {
		return false, fmt.Errorf("update asset status: %w", err)
	}
	mutate(&next)
	if same, err := sameAssetStatus(base, next); err != nil || same {
		if err == nil && !cached {
			r.remember(key, base)
		}
		return false, err
	}
	if _, err := r.c.UpdateAssetStatus(ctx, device, endpoint, asset, next); err != nil {
		// The service state is unknown now: read it again next time.
		r.ForgetAsset(device, endpoint, asset)
		return false, fmt.Errorf("update asset status: %w", err)
	}
	r.remember(key, next)
	return true, nil
}

func (r *StatusReporter) remember(key string, s adr.AssetStatus) {
	r.mu.Lock()
	r.assets[key] = s
	r.mu.Unlock()
}

// ForgetAsset drops the cached status of an asset, for example when it is
// removed or redefined, so the next update reads it from the service.
func (r *StatusReporter) ForgetAsset(device, endpoint, asset string) {
	r.mu.Lock()
	delete(r.assets, assetKey(device, endpoint, asset))
	r.mu.Unlock()
}

// clone deep-copies a status through JSON, its wire form.
func clone[T any](v T) (T, error) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	err = json.Unmarshal(b, &out)
	return out, err
}

func sameDeviceStatus(a, b adr.DeviceStatus) (bool, error) {
	a.Config, b.Config = withoutTransition(a.Config), withoutTransition(b.Config)
	return sameJSON(a, b)
}

func sameAssetStatus(a, b adr.AssetStatus) (bool, error) {
	a.Config, b.Config = withoutTransition(a.Config), withoutTransition(b.Config)
	return sameJSON(a, b)
}

func withoutTransition(c *adr.ConfigStatus) *adr.ConfigStatus {
	if c == nil {
		return nil
	}
	cp := *c
	cp.LastTransitionTime = nil
	return &cp
}

func sameJSON(a, b any) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}
