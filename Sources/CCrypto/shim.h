#ifndef INTOPS_CCRYPTO_SHIM_H
#define INTOPS_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/* OpenSSL 3 exposes some accessors only as macros, which Swift does not import. */
static inline int CCrypto_EVP_MD_size(const EVP_MD *md) { return EVP_MD_get_size(md); }
#endif
