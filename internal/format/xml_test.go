package format_test

import (
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/format"
)

func TestXML(t *testing.T) {
	runCases(t, format.XML, format.Options{}, []parseCase{
		{name: "root element is the one key", body: `<status>ok</status>`, want: `{"status": "ok"}`},
		{name: "leaf text is trimmed", body: "<a>\n  two words \t\r\n</a>", want: `{"a": "two words"}`},
		{name: "leaf number", body: `<a><t>21.5</t><n>-3</n><e>1E3</e><z>0</z></a>`, want: `{"a": {"t": 21.5, "n": -3, "e": 1E3, "z": 0}}`},
		{name: "leaf number trimmed", body: `<t> 21.5 </t>`, want: `{"t": 21.5}`},
		{name: "not numbers", body: `<a><z>007</z><p>+1</p><d>1.</d><f>.5</f><h>0x1F</h><n>NaN</n><i>Inf</i><u>1_000</u></a>`,
			want: `{"a": {"z": "007", "p": "+1", "d": "1.", "f": ".5", "h": "0x1F", "n": "NaN", "i": "Inf", "u": "1_000"}}`},
		{name: "booleans stay strings", body: `<a><on>true</on><off>false</off></a>`, want: `{"a": {"on": "true", "off": "false"}}`},
		{name: "empty element", body: `<a><e/><f></f><g>  </g></a>`, want: `{"a": {"e": "", "f": "", "g": ""}}`},
		{name: "attributes", body: `<temp unit="C" id="7">21.5</temp>`, want: `{"temp": {"@unit": "C", "@id": 7, "#text": 21.5}}`},
		{name: "attribute values are not trimmed", body: `<a v=" 7 "/>`, want: `{"a": {"@v": " 7 "}}`},
		{name: "attributes only", body: `<led color="green"/>`, want: `{"led": {"@color": "green"}}`},
		{name: "attributes and blank text", body: "<led color=\"green\">\n</led>", want: `{"led": {"@color": "green"}}`},
		{name: "children", body: `<s><a>1</a><b>x</b></s>`, want: `{"s": {"a": 1, "b": "x"}}`},
		{name: "repeated children are an array in order", body: `<s><v>3</v><x>a</x><v>1</v><v>2</v></s>`, want: `{"s": {"v": [3, 1, 2], "x": "a"}}`},
		{name: "repeated objects", body: `<s><ch id="1"><v>5</v></ch><ch id="2"><v>6</v></ch></s>`,
			want: `{"s": {"ch": [{"@id": 1, "v": 5}, {"@id": 2, "v": 6}]}}`},
		{name: "once is not an array", body: `<s><v>3</v></s>`, want: `{"s": {"v": 3}}`},
		{name: "mixed text", body: `<p>hello <b>big</b> world</p>`, want: `{"p": {"b": "big", "#text": "hello  world"}}`},
		{name: "mixed number text", body: `<p>5<u>kW</u></p>`, want: `{"p": {"u": "kW", "#text": 5}}`},
		{name: "cdata", body: `<a><![CDATA[<x> & y]]></a>`, want: `{"a": "<x> & y"}`},
		{name: "cdata joined with text", body: `<a>1<![CDATA[2]]>3</a>`, want: `{"a": 123}`},
		{name: "predefined entities", body: `<a>&lt;&gt;&amp;&apos;&quot;&#38;&#x41;</a>`, want: `{"a": "<>&'\"&A"}`},
		{name: "local names", body: `<s:Env xmlns:s="urn:s" xmlns="urn:d"><s:v s:unit="C">1</s:v></s:Env>`, want: `{"Env": {"v": {"@unit": "C", "#text": 1}}}`},
		{name: "namespace declarations only make a leaf", body: `<v xmlns="urn:d">1</v>`, want: `{"v": 1}`},
		{name: "xml lang attribute", body: `<t xml:lang="en">hi</t>`, want: `{"t": {"@lang": "en", "#text": "hi"}}`},
		{name: "same local name in two namespaces repeats", body: `<r xmlns:a="urn:a" xmlns:b="urn:b"><a:v>1</a:v><b:v>2</b:v></r>`, want: `{"r": {"v": [1, 2]}}`},
		{name: "declaration comments and processing instructions", body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><?pi x?><a><!-- c -->1</a>\n<!-- after -->\n", want: `{"a": 1}`},
		{name: "doctype skipped", body: "<!DOCTYPE a [<!ELEMENT a (#PCDATA)>]>\n<a>1</a>", want: `{"a": 1}`},
		{name: "byte order mark", body: "\uFEFF<a>1</a>", want: `{"a": 1}`},
		{name: "latin-1", body: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>21\xb0C</a>", want: `{"a": "21°C"}`},
		{name: "us-ascii", body: "<?xml version=\"1.0\" encoding=\"US-ASCII\"?><a>x</a>", want: `{"a": "x"}`},
		{name: "nested 1000 deep", body: strings.Repeat("<a>", 1000) + "1" + strings.Repeat("</a>", 1000), want: strings.Repeat(`{"a":`, 1000) + "1" + strings.Repeat("}", 1000)},
		{name: "blank", body: "\n", want: `null`},

		{name: "mismatched end tag", body: "<s>\n<a>1</a>\n  <temp>21</tmp>\n</s>", err: `XML at line 3, column 17: element <temp> closed by </tmp>`},
		{name: "not closed", body: "<s>\n<a>1</a>\n", err: `XML at line 3, column 1: element <s> is not closed`},
		{name: "stray end tag", body: "<a/></b>", err: `XML at line 1, column 9: unexpected end element </b>`},
		{name: "second root", body: "<a/>\n<b/>", err: `XML at line 2, column 5: a second root element <b>`},
		{name: "text outside the root", body: "<a/>junk", err: `XML at line 1, column 9: text outside the root element`},
		{name: "no root", body: "<!-- only -->", err: `XML at line 1, column 14: no root element`},
		{name: "syntax error", body: "<a>\n<b x=1/></a>", err: `XML at line 2, column 7: unquoted or missing attribute value in element`},
		{name: "declared entity is not expanded", body: "<!DOCTYPE a [<!ENTITY e \"boom\">]><a>&e;</a>", err: `XML at line 1, column 40: invalid character entity &e;`},
		{name: "external entity is not fetched", body: "<!DOCTYPE a [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><a>&e;</a>", err: `XML at line 1, column 61: invalid character entity &e;`},
		{name: "two attributes of one name", body: `<a x="1" x="2"/>`, err: `XML at line 1, column 17: element <a> has two attributes "x"`},
		{name: "two attributes of one local name", body: `<a xmlns:p="urn:p" xmlns:q="urn:q" p:x="1" q:x="2"/>`, err: `XML at line 1, column 53: element <a> has two attributes "x"`},
		{name: "too deep", body: strings.Repeat("<a>", 1001), err: `XML at line 1, column 3004: elements nested deeper than 1000`},
		{name: "unsupported encoding", body: `<?xml version="1.0" encoding="Shift_JIS"?><a/>`,
			err: `XML at line 1, column 43: opening charset "Shift_JIS": unsupported: a document is read in UTF-8, US-ASCII or ISO-8859-1`},
		{name: "invalid UTF-8", body: "<a>\xff</a>", err: `XML at line 1, column 5: invalid UTF-8`},
		{name: "long names are clipped", body: "<" + strings.Repeat("n", 200) + "></x>",
			err: `XML at line 1, column 207: element <` + strings.Repeat("n", 40) + `…> closed by </x>`},
	})
}

func TestXMLArrays(t *testing.T) {
	runCases(t, format.XML, format.Options{XML: format.XMLOptions{Arrays: []string{"alarm", "status/ch", "status/x/y"}}}, []parseCase{
		{name: "name once", body: `<status><alarm>hot</alarm></status>`, want: `{"status": {"alarm": ["hot"]}}`},
		{name: "name at any depth", body: `<status><a><b><alarm>1</alarm></b></a></status>`, want: `{"status": {"a": {"b": {"alarm": [1]}}}}`},
		{name: "name repeated", body: `<status><alarm>1</alarm><alarm>2</alarm></status>`, want: `{"status": {"alarm": [1, 2]}}`},
		{name: "path once", body: `<status><ch id="1"/></status>`, want: `{"status": {"ch": [{"@id": 1}]}}`},
		{name: "path elsewhere is not an array", body: `<status><sub><ch>1</ch></sub></status>`, want: `{"status": {"sub": {"ch": 1}}}`},
		{name: "deeper path", body: `<status><x><y>1</y></x></status>`, want: `{"status": {"x": {"y": [1]}}}`},
		{name: "absent is absent", body: `<status><ok>1</ok></status>`, want: `{"status": {"ok": 1}}`},
		{name: "root by name", body: `<alarm>1</alarm>`, want: `{"alarm": [1]}`},
	})
}

func TestXMLPrefixes(t *testing.T) {
	runCases(t, format.XML, format.Options{XML: format.XMLOptions{Prefixes: true, Arrays: []string{"m:v"}}}, []parseCase{
		{name: "prefixes kept", body: `<s:Env xmlns:s="urn:s" xmlns:m="urn:m"><s:Body m:unit="C"><m:v>1</m:v><v>2</v></s:Body></s:Env>`,
			want: `{"s:Env": {"s:Body": {"@m:unit": "C", "m:v": [1], "v": 2}}}`},
		{name: "two prefixes of one local name", body: `<a xmlns:p="urn:p" xmlns:q="urn:q" p:x="1" q:x="2"/>`, want: `{"a": {"@p:x": 1, "@q:x": 2}}`},
	})
}

func TestXMLStrings(t *testing.T) {
	runCases(t, format.XML, format.Options{XML: format.XMLOptions{Strings: true}}, []parseCase{
		{name: "no numbers", body: `<a id="1"><v>2</v>3</a>`, want: `{"a": {"@id": "1", "v": "2", "#text": "3"}}`},
	})
}
