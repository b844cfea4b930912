package statestore_test

import (
	"reflect"
	"testing"

	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/statestore"
)

func TestNotifyTopics(t *testing.T) {
	if got, want := statestore.NotifyTopic("conn-1", []byte("k\x00")), "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636F6E6E2D31/command/notify/6B00"; got != want {
		t.Errorf("NotifyTopic = %s, want %s", got, want)
	}
	if got, want := statestore.NotifyFilter("conn-1"), "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/636F6E6E2D31/command/notify/+"; got != want {
		t.Errorf("NotifyFilter = %s, want %s", got, want)
	}
	if !mqttclient.MatchTopic(statestore.NotifyFilter("conn-1"), statestore.NotifyTopic("conn-1", []byte("k"))) {
		t.Error("the filter does not match the topic")
	}
}

func TestParseNotification(t *testing.T) {
	topic := statestore.NotifyTopic("c", []byte("key"))
	ts := []mqttclient.UserProperty{{Key: "__ts", Value: "001753180800123:00000:n"}}
	tests := []struct {
		name    string
		msg     mqttclient.Message
		want    statestore.Notification
		wantErr string
	}{
		{name: "set", msg: mqttclient.Message{Topic: topic, UserProperties: ts,
			Payload: []byte("*4\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n$5\r\nVALUE\r\n$4\r\na\r\nb\r\n")},
			want: statestore.Notification{Key: []byte("key"), Operation: "SET", Value: []byte("a\r\nb"), Version: "001753180800123:00000:n"}},
		{name: "delete", msg: mqttclient.Message{Topic: topic, Payload: []byte("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n")},
			want: statestore.Notification{Key: []byte("key"), Operation: "DELETE"}},
		{name: "lower-case hex key", msg: mqttclient.Message{Topic: statestore.NotifyTopicPrefix + "63/command/notify/6b6579", Payload: []byte("*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n")},
			want: statestore.Notification{Key: []byte("key"), Operation: "DELETE"}},
		{name: "other topic", msg: mqttclient.Message{Topic: "clients/c/x"},
			wantErr: `state store notification: topic "clients/c/x" is not a notification topic`},
		{name: "key not hex", msg: mqttclient.Message{Topic: statestore.NotifyTopicPrefix + "63/command/notify/xyz"},
			wantErr: `state store notification: topic "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/63/command/notify/xyz": key is not hex`},
		{name: "payload not RESP3", msg: mqttclient.Message{Topic: topic, Payload: []byte("NOTIFY")},
			wantErr: "state store notification: resp3: unsupported type byte 'N' at offset 0"},
		{name: "not blobs", msg: mqttclient.Message{Topic: topic, Payload: []byte("*1\r\n:1\r\n")},
			wantErr: "state store notification: resp3: element 0 is a integer, want a blob string"},
		{name: "set without value", msg: mqttclient.Message{Topic: topic, Payload: []byte("*2\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n")},
			wantErr: `state store notification: payload "*2\r\n$6\r\nNOTIFY\r\n$3\r\nSET\r\n" is neither NOTIFY DELETE nor NOTIFY SET VALUE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := statestore.ParseNotification(tt.msg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
