package sdk

import (
	"testing"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
	"google.golang.org/protobuf/proto"
)

// BenchmarkDeliverRequest is what Deliver spends on one typical event before
// the call: conversion, the UTF-8 walk and encoding, to see the walk's share.
func BenchmarkDeliverRequest(b *testing.B) {
	ev := Event{ID: "update-123456", Address: Address{ChatID: "123456789"},
		Consumer: Consumer{ID: "987654321", DisplayName: "Ann Example", FirstName: "Ann", Username: "ann", Locale: "en",
			Attributes: map[string]string{"FromCity": "SAN FRANCISCO", "FromCountry": "US"}},
		Message: &Message{ID: "42", Text: "Hello, I would like to change my delivery address please."}}
	for _, walk := range []bool{false, true} {
		name := "without_walk"
		if walk {
			name = "with_walk"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := &pb.DeliverRequest{Events: []*pb.Event{eventToProto(ev)}}
				if walk {
					validUTF8(req.ProtoReflect())
				}
				if _, err := proto.Marshal(req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
