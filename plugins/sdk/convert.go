package sdk

import (
	"net/http"
	"time"

	pb "github.com/leconnect/leconnect/proto/leconnect/adapter/v1"
)

// Conversions between the SDK's Go types and the generated protocol types.
// Every function is nil-safe: a missing message becomes a zero value.

func capabilitiesToProto(c Capabilities) *pb.Capabilities {
	kinds := make([]pb.MediaKind, 0, len(c.MediaKinds))
	for _, k := range c.MediaKinds {
		kinds = append(kinds, pb.MediaKind(k))
	}
	return &pb.Capabilities{
		Typing:           c.Typing,
		ReadReceipts:     c.ReadReceipts,
		DeliveryReceipts: c.DeliveryReceipts,
		MediaKinds:       kinds,
		MaxTextLength:    uint32(max(c.MaxTextLength, 0)),
		QuickReplies:     c.QuickReplies,
		Buttons:          c.Buttons,
		Webhooks:         c.Webhooks,
		ResolvesSends:    c.ResolvesSends,
	}
}

func capabilitiesFromProto(c *pb.Capabilities) Capabilities {
	kinds := make([]MediaKind, 0, len(c.GetMediaKinds()))
	for _, k := range c.GetMediaKinds() {
		if k > pb.MediaKind_MEDIA_KIND_UNSPECIFIED && k <= pb.MediaKind_MEDIA_KIND_FILE {
			kinds = append(kinds, MediaKind(k))
		}
	}
	return Capabilities{
		Typing:           c.GetTyping(),
		ReadReceipts:     c.GetReadReceipts(),
		DeliveryReceipts: c.GetDeliveryReceipts(),
		MediaKinds:       kinds,
		MaxTextLength:    int(c.GetMaxTextLength()),
		QuickReplies:     c.GetQuickReplies(),
		Buttons:          c.GetButtons(),
		Webhooks:         c.GetWebhooks(),
		ResolvesSends:    c.GetResolvesSends(),
	}
}

func addressToProto(a Address) *pb.Address {
	return &pb.Address{ChatId: a.ChatID, ThreadId: a.ThreadID}
}

func addressFromProto(a *pb.Address) Address {
	return Address{ChatID: a.GetChatId(), ThreadID: a.GetThreadId()}
}

func consumerToProto(c Consumer) *pb.Consumer {
	return &pb.Consumer{
		Id: c.ID, DisplayName: c.DisplayName, FirstName: c.FirstName, LastName: c.LastName,
		Username: c.Username, Phone: c.Phone, Email: c.Email, Locale: c.Locale, Attributes: c.Attributes,
	}
}

func consumerFromProto(c *pb.Consumer) Consumer {
	return Consumer{
		ID: c.GetId(), DisplayName: c.GetDisplayName(), FirstName: c.GetFirstName(), LastName: c.GetLastName(),
		Username: c.GetUsername(), Phone: c.GetPhone(), Email: c.GetEmail(), Locale: c.GetLocale(),
		Attributes: c.GetAttributes(),
	}
}

func choiceToProto(c *Choice) *pb.Choice {
	if c == nil {
		return nil
	}
	return &pb.Choice{Id: c.ID, Text: c.Text}
}

func choiceFromProto(c *pb.Choice) *Choice {
	if c == nil {
		return nil
	}
	return &Choice{ID: c.GetId(), Text: c.GetText()}
}

func choicesToProto(cs []Choice) []*pb.Choice {
	out := make([]*pb.Choice, 0, len(cs))
	for i := range cs {
		out = append(out, choiceToProto(&cs[i]))
	}
	return out
}

func choicesFromProto(cs []*pb.Choice) []Choice {
	out := make([]Choice, 0, len(cs))
	for _, c := range cs {
		out = append(out, *choiceFromProto(c))
	}
	return out
}

func mediaToProto(m *Media) *pb.Media {
	if m == nil {
		return nil
	}
	return &pb.Media{Kind: pb.MediaKind(m.Kind), ContentType: m.ContentType, FileName: m.FileName, Data: m.Data, Caption: m.Caption}
}

func mediaFromProto(m *pb.Media) *Media {
	if m == nil {
		return nil
	}
	return &Media{Kind: MediaKind(m.GetKind()), ContentType: m.GetContentType(), FileName: m.GetFileName(), Data: m.GetData(), Caption: m.GetCaption()}
}

func eventToProto(e Event) *pb.Event {
	out := &pb.Event{
		EventId:  e.ID,
		Address:  addressToProto(e.Address),
		Consumer: consumerToProto(e.Consumer),
	}
	if !e.OccurredAt.IsZero() {
		out.OccurredAtUnixMs = e.OccurredAt.UnixMilli()
	}
	switch {
	case e.Message != nil:
		media := make([]*pb.Media, 0, len(e.Message.Media))
		for i := range e.Message.Media {
			media = append(media, mediaToProto(&e.Message.Media[i]))
		}
		out.Kind = &pb.Event_Message{Message: &pb.Message{
			MessageId: e.Message.ID, Text: e.Message.Text, Media: media,
			Choice: choiceToProto(e.Message.Choice), Edited: e.Message.Edited,
		}}
	case e.Typing != nil:
		out.Kind = &pb.Event_Typing{Typing: &pb.Typing{Active: e.Typing.Active}}
	case e.Receipt != nil:
		out.Kind = &pb.Event_Receipt{Receipt: &pb.Receipt{
			Status: pb.Receipt_Status(e.Receipt.Status), MessageIds: e.Receipt.MessageIDs,
		}}
	case e.End != nil:
		out.Kind = &pb.Event_EndConversation{EndConversation: &pb.EndConversation{Reason: e.End.Reason}}
	}
	return out
}

// eventFromProto converts a wire event.
func eventFromProto(e *pb.Event) Event {
	out := Event{
		ID:       e.GetEventId(),
		Address:  addressFromProto(e.GetAddress()),
		Consumer: consumerFromProto(e.GetConsumer()),
	}
	if ms := e.GetOccurredAtUnixMs(); ms != 0 {
		out.OccurredAt = time.UnixMilli(ms).UTC()
	}
	switch k := e.GetKind().(type) {
	case *pb.Event_Message:
		m := k.Message
		media := make([]Media, 0, len(m.GetMedia()))
		for _, md := range m.GetMedia() {
			media = append(media, *mediaFromProto(md))
		}
		out.Message = &Message{ID: m.GetMessageId(), Text: m.GetText(), Media: media, Choice: choiceFromProto(m.GetChoice()), Edited: m.GetEdited()}
	case *pb.Event_Typing:
		out.Typing = &Typing{Active: k.Typing.GetActive()}
	case *pb.Event_Receipt:
		out.Receipt = &Receipt{Status: ReceiptStatus(k.Receipt.GetStatus()), MessageIDs: k.Receipt.GetMessageIds()}
	case *pb.Event_EndConversation:
		out.End = &EndConversation{Reason: k.EndConversation.GetReason()}
	}
	return out
}

func headersToProto(h http.Header) []*pb.Header {
	out := make([]*pb.Header, 0, len(h))
	for name, values := range h {
		out = append(out, &pb.Header{Name: name, Values: values})
	}
	return out
}

func headersFromProto(hs []*pb.Header) http.Header {
	out := make(http.Header, len(hs))
	for _, h := range hs {
		for _, v := range h.GetValues() {
			out.Add(h.GetName(), v)
		}
	}
	return out
}

func sendToProto(m OutboundMessage) *pb.SendRequest {
	return &pb.SendRequest{
		IdempotencyKey: m.IdempotencyKey,
		Address:        addressToProto(m.To),
		Text:           m.Text,
		Media:          mediaToProto(m.Media),
		QuickReplies:   choicesToProto(m.QuickReplies),
		Buttons:        choicesToProto(m.Buttons),
	}
}

func sendFromProto(r *pb.SendRequest) OutboundMessage {
	return OutboundMessage{
		IdempotencyKey: r.GetIdempotencyKey(),
		To:             addressFromProto(r.GetAddress()),
		Text:           r.GetText(),
		Media:          mediaFromProto(r.GetMedia()),
		QuickReplies:   choicesFromProto(r.GetQuickReplies()),
		Buttons:        choicesFromProto(r.GetButtons()),
	}
}
