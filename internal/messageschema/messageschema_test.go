package messageschema

import "testing"

func TestDerive(t *testing.T) {
	got, err := Derive([]byte(`{"desiredTemperature": 72.5, "currentTemperature": 71, "power": "on", "ok": true, "tags": [{"k": "v"}], "none": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"currentTemperature":{"type":"number"},"desiredTemperature":{"type":"number"},"none":{"type":"null"},"ok":{"type":"boolean"},"power":{"type":"string"},"tags":{"items":{"properties":{"k":{"type":"string"}},"type":"object"},"type":"array"}},"type":"object"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	again, _ := Derive([]byte(`{"currentTemperature": 70.1, "desiredTemperature": 70, "power": "off", "ok": false, "tags": [{"k": "w"}], "none": null}`))
	if again != got {
		t.Error("the same shape with other values gave another schema")
	}
	if _, err := Derive([]byte(`{"a": `)); err == nil {
		t.Error("broken JSON derived a schema")
	}
}

func TestNormalize(t *testing.T) {
	got, err := Normalize(map[string]any{"type": "object", "properties": map[string]any{"t": map[string]any{"type": "number"}}})
	want := `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"t":{"type":"number"}},"type":"object"}`
	if err != nil || got != want {
		t.Errorf("got %s, %v", got, err)
	}
	if _, err := Normalize("object"); err == nil {
		t.Error("a string was accepted as a schema")
	}
}
