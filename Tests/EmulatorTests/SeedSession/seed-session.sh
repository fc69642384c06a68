#!/usr/bin/env bash
# Replays every curl example of the Integrations API reference (shared/seed/000_5a03f088667804ed.txt) against a
# running integrations-emulator, with only the host, the token and the ids substituted.
#
#   seed-session.sh BASE_URL TOKEN OUT_DIR
#
# Each answer is saved as OUT_DIR/NN-name.status and OUT_DIR/NN-name.json; SeedSessionTests compares them with the
# examples of the reference.
set -euo pipefail
base=$1 token=$2 out=$3
mkdir -p "$out"
step=0

run() { # name, then curl arguments
  local name=$1; shift
  step=$((step + 1))
  local file; file=$(printf '%s/%02d-%s' "$out" "$step" "$name")
  curl -sS -o "$file.json" -w '%{http_code}' "$@" > "$file.status"
}

json_field() { # file, field: the first "field":"value" of a flat JSON answer
  sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" "$1" | head -n 1
}

run templates -X GET \
  "$base/api/integration-templates" \
  -H "Authorization: Bearer $token"

run templates-by-type -X GET \
  "$base/api/integration-templates?integrationType=1" \
  -H "Authorization: Bearer $token"

run available -X GET \
  "$base/api/integrations/available" \
  -H "Authorization: Bearer $token"

run create -X POST \
  "$base/api/organizations/org123/integrations" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{
    "integrationType": 1,
    "provider": "AuthorizeNet",
    "displayName": "Main Payment Gateway",
    "isEnabled": true,
    "configuration": { "IsSandbox": "true" },
    "secrets": {
      "ApiLoginId": "your-api-login-id",
      "TransactionKey": "your-transaction-key"
    }
  }'
id=$(json_field "$out/04-create.json" integrationId)

run list -X GET \
  "$base/api/organizations/org123/integrations" \
  -H "Authorization: Bearer $token"

run get -X GET \
  "$base/api/organizations/org123/integrations/$id" \
  -H "Authorization: Bearer $token"

run update -X PUT \
  "$base/api/organizations/org123/integrations/$id" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{
    "displayName": "Production Payment Gateway",
    "isEnabled": true,
    "configuration": { "IsSandbox": "false" }
  }'

run test -X POST \
  "$base/api/organizations/org123/integrations/$id/test" \
  -H "Authorization: Bearer $token"

# connect is for OAuth providers; the reference's example id stands for a QuickBooks integration here.
run create-quickbooks -X POST \
  "$base/api/organizations/org123/integrations" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{ "integrationType": 2, "provider": "QuickBooks", "displayName": "QuickBooks Online" }'
quickbooks=$(json_field "$out/09-create-quickbooks.json" integrationId)

run connect -X POST \
  "$base/api/organizations/org123/integrations/$quickbooks/connect" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{ "state": "https://yourapp.com/integrations/callback" }'

run rotate-secrets -X POST \
  "$base/api/organizations/org123/integrations/$id/rotate-secrets" \
  -H "Authorization: Bearer $token" \
  -H "Content-Type: application/json" \
  -d '{
    "newSecrets": {
      "ApiLoginId": "new-rotated-api-login-id",
      "TransactionKey": "new-rotated-transaction-key"
    },
    "testConnectionAfterRotation": true
  }'

run delete -X DELETE \
  "$base/api/organizations/org123/integrations/$id" \
  -H "Authorization: Bearer $token"
