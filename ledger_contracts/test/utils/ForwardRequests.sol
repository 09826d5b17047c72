// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

import {Vm} from "./Vm.sol";

/// @notice Signed requests for the GridForwarder, built by hand from the EIP-712 definitions
/// (not from the forwarder's own helpers), so the tests check the domain and type the relay signs.
library ForwardRequests {
    Vm private constant _VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    bytes32 internal constant TYPEHASH = keccak256(
        "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)"
    );
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @dev The EIP-712 digest of `request` with `nonce`, in the domain ("gridgame", "1") of `forwarder`.
    function digest(ERC2771Forwarder forwarder, ERC2771Forwarder.ForwardRequestData memory request, uint256 nonce)
        internal
        view
        returns (bytes32)
    {
        bytes32 domainSeparator = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("gridgame"), keccak256("1"), block.chainid, address(forwarder))
        );
        bytes32 structHash = keccak256(
            abi.encode(
                TYPEHASH,
                request.from,
                request.to,
                request.value,
                request.gas,
                nonce,
                request.deadline,
                keccak256(request.data)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    /// @dev `from`'s request to call `to` with `data` (no value, 1 M gas, an hour to run), signed
    /// with `key` for its next nonce at `forwarder`.
    function signed(ERC2771Forwarder forwarder, uint256 key, address from, address to, bytes memory data)
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory request)
    {
        request = ERC2771Forwarder.ForwardRequestData({
            from: from,
            to: to,
            value: 0,
            gas: 1_000_000,
            deadline: uint48(block.timestamp + 1 hours),
            data: data,
            signature: ""
        });
        (uint8 v, bytes32 r, bytes32 s) = _VM.sign(key, digest(forwarder, request, forwarder.nonces(from)));
        request.signature = abi.encodePacked(r, s, v);
    }
}
