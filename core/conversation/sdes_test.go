package conversation

import (
	"testing"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// configDefaults is the config's default mapping (connector.yaml.example).
var configDefaults = map[string]string{
	"personal.firstname": "first_name|display_name", "personal.lastname": "last_name",
	"personal.language": "locale", "personal.email": "email", "personal.phone": "phone",
	"ctmrinfo.userName": "username",
}

func TestProfileOfMapsTheChannelsProfileToSDEs(t *testing.T) {
	tess := sdk.Consumer{ID: "424242", DisplayName: "Tess Gram", FirstName: "Tess", LastName: "Gram", Username: "tess",
		Locale: "de", Attributes: map[string]string{"title": "Head of Ops"}}
	phone := sdk.Consumer{ID: "+15005550123", Phone: "+15005550123", DisplayName: "+15005550123"}
	tests := []struct {
		name     string
		consumer sdk.Consumer
		sdes     map[string]string
		want     liveperson.ConsumerProfile
	}{
		{"defaults, Telegram", tess, configDefaults,
			liveperson.ConsumerProfile{FirstName: "Tess", LastName: "Gram", Language: "de", UserName: "tess"}},
		{"defaults, SMS: the display name stands in for a first name", phone, configDefaults,
			liveperson.ConsumerProfile{FirstName: "+15005550123", Phone: "+15005550123"}},
		{"configured: attributes, fallbacks, literals", tess, map[string]string{
			"ctmrinfo.companyBranch": "attributes.title", "ctmrinfo.ctype": "=vip",
			"ctmrinfo.customerId": "email|consumer_id", "personal.firstname": "display_name",
		}, liveperson.ConsumerProfile{FirstName: "Tess Gram", CompanyBranch: "Head of Ops", CustomerType: "vip", CustomerID: "424242"}},
		{"nothing mapped", tess, nil, liveperson.ConsumerProfile{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := profileOf(tt.consumer, tt.sdes); got != tt.want {
				t.Fatalf("profileOf = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
