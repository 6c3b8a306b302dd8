// Types of the part of tweetnacl 1.0.3 (vendored as nacl-fast.js) that the
// mini-program uses: detached Ed25519 verification.
export declare const sign: {
  detached: {
    verify(msg: Uint8Array, sig: Uint8Array, publicKey: Uint8Array): boolean;
  };
};
