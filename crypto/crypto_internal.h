/* crypto_internal.h - private to crypto/: what its files share beyond rumor_crypto.h. */
#ifndef RUMOR_CRYPTO_INTERNAL_H
#define RUMOR_CRYPTO_INTERNAL_H

#include "rumor_crypto.h"

/* Copies the identity's 32-byte seed into `seed` (the caller's secret memory). */
/* The seed of an identity that holds it; RUMOR_ERR_PASSPHRASE for a delegated one. */
int rumor_identity_seed(const rumor_identity_t *id, uint8_t seed[RUMOR_SEED_BYTES]);

#endif
