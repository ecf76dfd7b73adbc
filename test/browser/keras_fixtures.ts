/** The Keras fixtures the browser suite serves under /keras3/ and checks (no imports: page and Node share it). */
export const KERAS_FIXTURES = ['cnn_bn', 'convnext_block', 'renorm_frozen', 'token_norms', 'unet_block'];
