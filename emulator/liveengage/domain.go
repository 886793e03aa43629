package liveengage

import (
	"net/http"
)

// domainServices are the service names the Domain API knows. Every one
// resolves to the emulator itself. Names are case-sensitive (§1.2).
var domainServices = []string{
	"asyncMessagingEnt",
	"sentinel",
	"idp",
	"swift",
	"mtlsGateway",
	"accountConfigReadWrite",
	"accountConfigReadOnly",
	"messagingRestApiDomain",
	"liveEngageUI",
	"agentVep",
	"msgHist",
	"leDataReporting",
}

type baseURI struct {
	Service string `json:"service"`
	Account string `json:"account"`
	BaseURI string `json:"baseURI"`
}

// domainPrecheck validates the parts common to both Domain API forms and
// returns false after writing an error.
func (e *Emulator) domainPrecheck(w http.ResponseWriter, r *http.Request) bool {
	if f := r.PathValue("file"); f != "baseURI.json" && f != "baseURI" {
		http.NotFound(w, r)
		return false
	}
	if e.injectFault(w, r, EndpointDomain, "") {
		return false
	}
	if r.URL.Query().Get("version") == "" {
		writeUnifiedError(w, http.StatusBadRequest, "", 40001, "Missing parameter", "version is missing")
		return false
	}
	if r.PathValue("account") != e.opts.AccountID {
		writeUnifiedError(w, http.StatusUnauthorized, "", 40100, "Unauthorized", "invalid site or agent")
		return false
	}
	return true
}

// handleDomainAll serves GET /api/account/{account}/service/baseURI.json
// with the {"baseURIs":[...]} envelope.
func (e *Emulator) handleDomainAll(w http.ResponseWriter, r *http.Request) {
	if !e.domainPrecheck(w, r) {
		return
	}
	out := struct {
		BaseURIs []baseURI `json:"baseURIs"`
	}{BaseURIs: make([]baseURI, 0, len(domainServices))}
	for _, s := range domainServices {
		out.BaseURIs = append(out.BaseURIs, baseURI{s, e.opts.AccountID, r.Host})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDomainSingle serves GET /api/account/{account}/service/{service}/baseURI.json
// with the flat {service,account,baseURI} object.
func (e *Emulator) handleDomainSingle(w http.ResponseWriter, r *http.Request) {
	if !e.domainPrecheck(w, r) {
		return
	}
	svc := r.PathValue("service")
	for _, s := range domainServices {
		if s == svc {
			writeJSON(w, http.StatusOK, baseURI{s, e.opts.AccountID, r.Host})
			return
		}
	}
	writeUnifiedError(w, http.StatusNotFound, "", 40400, "Not Found", "service "+svc+" is unknown")
}
