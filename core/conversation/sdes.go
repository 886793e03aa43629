package conversation

import (
	"strings"

	"github.com/leconnect/leconnect/core/liveperson"
	"github.com/leconnect/leconnect/plugins/sdk"
)

// profileOf builds the SDEs of a new conversation from what the channel
// knows of the consumer, field by field as sdes (the channel's config)
// says.
func profileOf(c sdk.Consumer, sdes map[string]string) liveperson.ConsumerProfile {
	var p liveperson.ConsumerProfile
	fields := map[string]*string{
		"personal.firstname": &p.FirstName, "personal.lastname": &p.LastName, "personal.gender": &p.Gender,
		"personal.language": &p.Language, "personal.email": &p.Email, "personal.phone": &p.Phone,
		"ctmrinfo.ctype": &p.CustomerType, "ctmrinfo.customerId": &p.CustomerID, "ctmrinfo.socialId": &p.SocialID,
		"ctmrinfo.userName": &p.UserName, "ctmrinfo.imei": &p.IMEI, "ctmrinfo.companyBranch": &p.CompanyBranch,
	}
	for field, source := range sdes {
		if dst, ok := fields[field]; ok {
			*dst = sdeValue(c, source)
		}
	}
	return p
}

// sdeValue evaluates a source: "=TEXT" is TEXT; otherwise the first of the
// |-separated consumer fields that is set.
func sdeValue(c sdk.Consumer, source string) string {
	if text, ok := strings.CutPrefix(source, "="); ok {
		return text
	}
	for _, alt := range strings.Split(source, "|") {
		alt = strings.TrimSpace(alt)
		var v string
		switch alt {
		case "first_name":
			v = c.FirstName
		case "last_name":
			v = c.LastName
		case "display_name":
			v = c.DisplayName
		case "username":
			v = c.Username
		case "phone":
			v = c.Phone
		case "email":
			v = c.Email
		case "locale":
			v = c.Locale
		case "consumer_id":
			v = c.ID
		default:
			if name, ok := strings.CutPrefix(alt, "attributes."); ok {
				v = c.Attributes[name]
			}
		}
		if v != "" {
			return v
		}
	}
	return ""
}
