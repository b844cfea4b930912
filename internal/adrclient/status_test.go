package adrclient_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
)

func TestStatusReporterDevice(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	r := adrclient.NewStatusReporter(e.client)
	// Another endpoint's status is kept by the service's merge.
	e.fake.SetDeviceStatus(device, adr.DeviceStatus{Endpoints: &adr.DeviceStatusEndpoints{Inbound: map[string]adr.EndpointStatus{
		"other-endpoint": {Error: &adr.ConfigError{Message: "down"}},
	}}})
	t0 := time.Date(2025, 7, 22, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		name   string
		mutate func(*adr.DeviceStatus)
		wrote  bool
	}{
		{"healthy", func(s *adr.DeviceStatus) { s.SetEndpointHealthy(endpoint, ptr(uint64(2)), t0) }, true},
		{"healthy again later", func(s *adr.DeviceStatus) { s.SetEndpointHealthy(endpoint, ptr(uint64(2)), t0.Add(time.Minute)) }, false},
		{"error", func(s *adr.DeviceStatus) {
			s.SetEndpointError(endpoint, ptr(uint64(2)), t0.Add(2*time.Minute), "Unable to sample the device. Error message: 503")
		}, true},
		{"same error", func(s *adr.DeviceStatus) {
			s.SetEndpointError(endpoint, ptr(uint64(2)), t0.Add(3*time.Minute), "Unable to sample the device. Error message: 503")
		}, false},
		{"healthy at new version", func(s *adr.DeviceStatus) { s.SetEndpointHealthy(endpoint, ptr(uint64(3)), t0.Add(4*time.Minute)) }, true},
	}
	for _, s := range steps {
		wrote, err := r.UpdateDevice(ctx, device, endpoint, s.mutate)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if wrote != s.wrote {
			t.Errorf("%s: wrote = %v, want %v", s.name, wrote, s.wrote)
		}
	}
	got, _ := e.fake.DeviceStatus(device)
	want := adr.DeviceStatus{
		Config: &adr.ConfigStatus{Version: ptr(uint64(3)), LastTransitionTime: ptr(t0.Add(4 * time.Minute))},
		Endpoints: &adr.DeviceStatusEndpoints{Inbound: map[string]adr.EndpointStatus{
			endpoint:         {},
			"other-endpoint": {Error: &adr.ConfigError{Message: "down"}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %+v\nwant   %+v", got, want)
	}
	if n := len(e.fake.Calls("getDeviceStatus")); n != len(steps) {
		t.Errorf("%d getDeviceStatus calls, want %d (read every time)", n, len(steps))
	}
}

func TestStatusReporterAsset(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	r := adrclient.NewStatusReporter(e.client)
	// An entry written by someone else before is preserved.
	e.fake.SetAssetStatus(asset, adr.AssetStatus{Datasets: []adr.DatasetStatus{{Name: "legacy"}}})
	t0 := time.Date(2025, 7, 22, 10, 0, 0, 0, time.UTC)

	// Concurrent updates of different datasets are serialized: none is lost.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.UpdateAsset(ctx, device, endpoint, asset, func(s *adr.AssetStatus) {
				s.SetConfig(ptr(uint64(1)), t0, nil)
				s.SetDataset(adr.DatasetStatus{Name: fmt.Sprintf("ds%d", i)})
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.fake.AssetStatus(asset)
	if len(got.Datasets) != 11 || got.Datasets[0].Name != "legacy" {
		t.Fatalf("stored datasets %+v, want legacy and ds0..ds9", got.Datasets)
	}
	// The base is the status last written: one read in all.
	if n := len(e.fake.Calls("getAssetStatus")); n != 1 {
		t.Errorf("%d getAssetStatus calls, want 1", n)
	}

	wrote, err := r.UpdateAsset(ctx, device, endpoint, asset, func(s *adr.AssetStatus) {
		s.SetConfig(ptr(uint64(1)), t0.Add(time.Hour), nil)
	})
	if err != nil || wrote {
		t.Errorf("update changing only lastTransitionTime: wrote %v, err %v; want skipped", wrote, err)
	}
	before := len(e.fake.Calls("updateAssetStatus"))
	ref := &adr.MessageSchemaReference{SchemaName: "N", SchemaRegistryNamespace: "DefaultSRNamespace", SchemaVersion: "1.0"}
	wrote, err = r.UpdateAsset(ctx, device, endpoint, asset, func(s *adr.AssetStatus) {
		s.SetDataset(adr.DatasetStatus{Name: "ds3", MessageSchemaReference: ref})
	})
	if err != nil || !wrote {
		t.Fatalf("schema reference update: wrote %v, err %v", wrote, err)
	}
	if n := len(e.fake.Calls("updateAssetStatus")); n != before+1 {
		t.Errorf("%d updates, want %d", n, before+1)
	}
	got, _ = e.fake.AssetStatus(asset)
	if d := got.Dataset("ds3"); d == nil || !reflect.DeepEqual(d.MessageSchemaReference, ref) {
		t.Errorf("ds3 = %+v", d)
	}

	// After a failed write the next update reads the status again.
	e.fake.Inject("updateAssetStatus", adrfake.Fault{Times: 1, Code: "KubeError", Message: "conflict"})
	if _, err := r.UpdateAsset(ctx, device, endpoint, asset, func(s *adr.AssetStatus) { s.SetDataset(adr.DatasetStatus{Name: "y"}) }); err == nil {
		t.Fatal("injected failure not reported")
	}
	e.fake.SetAssetStatus(asset, adr.AssetStatus{Datasets: []adr.DatasetStatus{{Name: "reset"}}})
	if _, err := r.UpdateAsset(ctx, device, endpoint, asset, func(s *adr.AssetStatus) { s.SetDataset(adr.DatasetStatus{Name: "x"}) }); err != nil {
		t.Fatal(err)
	}
	got, _ = e.fake.AssetStatus(asset)
	if len(got.Datasets) != 2 || got.Datasets[0].Name != "reset" {
		t.Errorf("after a failed write: %+v, want the re-read base", got.Datasets)
	}
}
