/** The Keras 3 fixtures the browser suite serves and loads, and the converter routes' subfolders. */
export const KERAS3_MODELS = ['convnext_block', 'unet_block', 'cnn_bn', 'renorm_frozen', 'token_norms'];
export const KERAS3_ROUTES = ['', 'keras_keras_route/'];
