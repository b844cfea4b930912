package messageschema

import "testing"

// Integers and numbers are told apart by how the first message writes
// them; a later message that gives an integer member a fraction widens it.
func TestDerive(t *testing.T) {
	got, err := Derive([]byte(`{"desiredTemperature": 72.5, "currentTemperature": 71, "power": "on", "ok": true, "tags": [{"k": "v", "n": 1}], "none": null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"currentTemperature":{"type":"integer"},"desiredTemperature":{"type":"number"},"none":{"type":"null"},"ok":{"type":"boolean"},"power":{"type":"string"},"tags":{"items":{"properties":{"k":{"type":"string"},"n":{"type":"integer"}},"type":"object"},"type":"array"}},"type":"object"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	same, changed, err := Widen(got, []byte(`{"currentTemperature": 70, "desiredTemperature": 70, "power": "off", "ok": false, "tags": [{"k": "w", "n": 2}], "none": null}`))
	if err != nil || changed || same != got {
		t.Errorf("a message of the same shape widened the schema: %s, %v", same, err)
	}
	wide, changed, err := Widen(got, []byte(`{"currentTemperature": 70.5, "desiredTemperature": 70, "tags": [{"n": 2.5}]}`))
	wantWide := `{"$schema":"http://json-schema.org/draft-07/schema#","properties":{"currentTemperature":{"type":"number"},"desiredTemperature":{"type":"number"},"none":{"type":"null"},"ok":{"type":"boolean"},"power":{"type":"string"},"tags":{"items":{"properties":{"k":{"type":"string"},"n":{"type":"number"}},"type":"object"},"type":"array"}},"type":"object"}`
	if err != nil || !changed || wide != wantWide {
		t.Errorf("widened to %s (%v, %v)\nwant        %s", wide, changed, err, wantWide)
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
