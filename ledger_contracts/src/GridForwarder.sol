// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title GridForwarder
/// @notice The ERC-2771 forwarder through which the transaction queue relays prosumers', the
/// clock's and the operator's signed requests (EIP-712 domain "gridgame", version "1").
contract GridForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("gridgame") {}
}
