package format_test

import (
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

func TestCSV(t *testing.T) {
	runCases(t, format.CSV, format.Options{}, []parseCase{
		{name: "header row names the columns", body: "time,temp,state\n12:00,21.5,ok\n12:01,,ok\n",
			want: `[{"time": "12:00", "temp": 21.5, "state": "ok"}, {"time": "12:01", "temp": null, "state": "ok"}]`},
		{name: "numbers by the JSON grammar", body: "a,b,c,d,e,f\n007,+1,-0.5,1e3,0x1F,NaN\n",
			want: `[{"a": "007", "b": "+1", "c": -0.5, "d": 1e3, "e": "0x1F", "f": "NaN"}]`},
		{name: "quoted empty is null", body: "a,b\n\"\",x\n", want: `[{"a": null, "b": "x"}]`},
		{name: "quoted fields", body: "a,b\n\"1,5\",\"say \"\"hi\"\"\nthere\"\n", want: `[{"a": "1,5", "b": "say \"hi\"\nthere"}]`},
		{name: "spaces kept", body: "a,b\n 1 ,x \n", want: `[{"a": " 1 ", "b": "x "}]`},
		{name: "crlf and no last line break", body: "a,b\r\n1,2\r\n3,4", want: `[{"a": 1, "b": 2}, {"a": 3, "b": 4}]`},
		{name: "empty lines skipped", body: "a\n\n1\n\n2\n", want: `[{"a": 1}, {"a": 2}]`},
		{name: "header only", body: "a,b\n", want: `[]`},
		{name: "byte order mark", body: "\uFEFFa,b\n1,2\n", want: `[{"a": 1, "b": 2}]`},
		{name: "booleans stay strings", body: "on\ntrue\n", want: `[{"on": "true"}]`},
		{name: "blank", body: " \n", want: `null`},
		{name: "too few fields", body: "a,b,c,d\n1,2,3,4\n5,6,7,8\n9,10,11\n", err: `CSV line 4: wrong number of fields (3, want 4)`},
		{name: "too many fields", body: "a\n1,2\n", err: `CSV line 2: wrong number of fields (2, want 1)`},
		{name: "line of a multi-line record", body: "a,b\n\"x\ny\",1\n2\n", err: `CSV line 4: wrong number of fields (1, want 2)`},
		{name: "duplicate header", body: "temp,id,temp\n1,2,3\n", err: `CSV line 1: duplicate column name "temp" (columns 1 and 3)`},
		{name: "empty header", body: "a,,c\n1,2,3\n", err: `CSV line 1: column 2 has no name`},
		{name: "bare quote", body: "a,b\n1,x\"y\n", err: `CSV line 2, column 4: bare " in non-quoted-field`},
		{name: "unclosed quote", body: "a,b\n1,\"xy\n", err: `CSV line 2, column 7: extraneous or missing " in quoted-field`},
		{name: "invalid UTF-8", body: "a,b\n1,2\n\xff,3\n", err: `CSV line 3: invalid UTF-8`},
	})
}

func TestCSVOptions(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name  string
		opts  format.CSVOptions
		cases []parseCase
	}{
		{"no header", format.CSVOptions{Header: &no}, []parseCase{
			{name: "arrays", body: "1,x,\n2,y,z\n", want: `[[1, "x", null], [2, "y", "z"]]`},
			{name: "rows as long as the first", body: "1,x\n2\n", err: `CSV line 2: wrong number of fields (1, want 2)`},
		}},
		{"no header, columns", format.CSVOptions{Header: &no, Columns: []string{"t", "v"}}, []parseCase{
			{name: "objects", body: "12:00,1\n12:01,2\n", want: `[{"t": "12:00", "v": 1}, {"t": "12:01", "v": 2}]`},
			{name: "rows as long as the columns", body: "12:00,1,x\n", err: `CSV line 1: wrong number of fields (3, want 2)`},
		}},
		{"header replaced by columns", format.CSVOptions{Header: &yes, Columns: []string{"t", "v"}}, []parseCase{
			{name: "header row skipped", body: "Zeit,Wert\n12:00,1\n", want: `[{"t": "12:00", "v": 1}]`},
			{name: "bad header names do not matter", body: "x,x\n12:00,1\n", want: `[{"t": "12:00", "v": 1}]`},
			{name: "header as long as the columns", body: "a,b,c\n1,2,3\n", err: `CSV line 1: wrong number of fields (3, want 2)`},
		}},
		{"semicolon, comment, trim", format.CSVOptions{Delimiter: ';', Comment: '#', TrimSpace: true}, []parseCase{
			{name: "european", body: "# export\n a ; b \n 1,5 ; 2 \n#end\n", want: `[{"a": "1,5", "b": 2}]`},
			{name: "trimmed empty is null", body: "a;b\n  ;x\n", want: `[{"a": null, "b": "x"}]`},
			{name: "quotes after spaces", body: "a;b\n \"x\" ; 1\n", err: `CSV line 2, column 4: extraneous or missing " in quoted-field`},
		}},
		{"tab", format.CSVOptions{Delimiter: '\t'}, []parseCase{
			{name: "tsv", body: "a\tb\n1\t2\n", want: `[{"a": 1, "b": 2}]`},
		}},
		{"strings", format.CSVOptions{Strings: true}, []parseCase{
			{name: "no numbers, no nulls", body: "a,b\n1,\n", want: `[{"a": "1", "b": ""}]`},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runCases(t, format.CSV, format.Options{CSV: c.opts}, c.cases)
		})
	}
}
