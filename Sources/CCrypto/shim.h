#ifndef INTOPS_CCRYPTO_SHIM_H
#define INTOPS_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/bn.h>
#include <openssl/rsa.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/bio.h>

/* OpenSSL 3 exposes some accessors only as macros, which Swift does not import. */
static const int CCrypto_select_public_key = EVP_PKEY_PUBLIC_KEY;
static const int CCrypto_select_key_pair = EVP_PKEY_KEYPAIR;
static inline int CCrypto_EVP_MD_size(const EVP_MD *md) { return EVP_MD_get_size(md); }

/* The OAEP label is handed over to the context, which frees it with OPENSSL_free: it must come from OPENSSL_malloc,
   a macro. */
static inline int CCrypto_set_oaep_label(EVP_PKEY_CTX *ctx, const unsigned char *label, int length) {
    unsigned char *copy = OPENSSL_malloc(length > 0 ? length : 1);
    if (copy == NULL) return 0;
    memcpy(copy, label, length);
    int ok = EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, length);
    if (ok <= 0) OPENSSL_free(copy);
    return ok;
}
#endif
