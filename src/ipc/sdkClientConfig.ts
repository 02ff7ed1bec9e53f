// The SDK client configuration for a nucleus socket and token: what the SDK's createDefaultClientConfig
// builds from process.env (aws-iot-device-sdk-v2 lib/greengrasscoreipc.ts), with both values passed in instead.

import * as io from 'aws-crt/dist/native/io.js';
import type * as eventstream_rpc from 'aws-iot-device-sdk-v2/dist/eventstream_rpc.js';

export function sdkClientConfig(socketPath: string, authToken: string | undefined): eventstream_rpc.RpcClientConfig {
  return {
    hostName: socketPath,
    port: 0,
    socketOptions: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.LOCAL),
    // Connect payload `{"authToken": SVCUID}` only when a token is set, exactly like the SDK.
    connectTransform: async (options) => {
      if (authToken !== undefined && authToken !== '') options.message.payload = JSON.stringify({ authToken });
      return options.message;
    },
  };
}
