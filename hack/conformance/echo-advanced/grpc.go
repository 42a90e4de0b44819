package main

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
)

// The gRPC service of Istio's echo app, wire-compatible without generated
// code: package proto, service EchoTestService, method Echo, whose request
// and response are both a message with one string field, number 1.
const (
	echoServiceName = "proto.EchoTestService"
	echoMethod      = "/" + echoServiceName + "/Echo"
)

// echoMessage is EchoRequest and EchoResponse: message string = 1.
type echoMessage struct{ Message string }

// wireCodec encodes echoMessage as protobuf by hand; it is named "proto" so
// that requests carry content-type application/grpc(+proto), as any gRPC
// client's would.
type wireCodec struct{}

func (wireCodec) Name() string { return "proto" }

func (wireCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(*echoMessage)
	if !ok {
		return nil, fmt.Errorf("echo codec: cannot marshal %T", v)
	}
	if m.Message == "" {
		return []byte{}, nil
	}
	b := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendString(b, m.Message), nil
}

func (wireCodec) Unmarshal(data []byte, v any) error {
	m, ok := v.(*echoMessage)
	if !ok {
		return fmt.Errorf("echo codec: cannot unmarshal into %T", v)
	}
	*m = echoMessage{}
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
		if num == 1 && typ == protowire.BytesType {
			s, n := protowire.ConsumeString(data)
			if n < 0 {
				return protowire.ParseError(n)
			}
			m.Message, data = s, data[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, data) // unknown fields are skipped, as protobuf does
		if n < 0 {
			return protowire.ParseError(n)
		}
		data = data[n:]
	}
	return nil
}

// echoer is the handler type of the service description.
type echoer interface {
	echo(ctx context.Context, in *echoMessage) (*echoMessage, error)
}

var echoServiceDesc = grpc.ServiceDesc{
	ServiceName: echoServiceName,
	HandlerType: (*echoer)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Echo", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := new(echoMessage)
		if err := dec(in); err != nil {
			return nil, err
		}
		e, ok := srv.(echoer)
		if !ok {
			return nil, errors.New("echo service not registered")
		}
		return e.echo(ctx, in)
	}}},
	Metadata: "echo.proto",
}
