// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Invariant targeting, as forge-std's `StdInvariant` declares it: Forge calls these
/// public views on an invariant test contract to learn which contracts, selectors and senders
/// to fuzz.
abstract contract StdInvariant {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    struct FuzzArtifactSelector {
        string artifact;
        bytes4[] selectors;
    }

    struct FuzzInterface {
        address addr;
        string[] artifacts;
    }

    address[] private _excludedContracts;
    address[] private _excludedSenders;
    address[] private _targetedContracts;
    address[] private _targetedSenders;
    string[] private _excludedArtifacts;
    string[] private _targetedArtifacts;
    FuzzSelector[] private _excludedSelectors;
    FuzzSelector[] private _targetedSelectors;
    FuzzArtifactSelector[] private _targetedArtifactSelectors;
    FuzzInterface[] private _targetedInterfaces;

    function targetContract(address newTargetedContract) internal {
        _targetedContracts.push(newTargetedContract);
    }

    function targetSelector(FuzzSelector memory newTargetedSelector) internal {
        _targetedSelectors.push(newTargetedSelector);
    }

    function targetSender(address newTargetedSender) internal {
        _targetedSenders.push(newTargetedSender);
    }

    function excludeContract(address newExcludedContract) internal {
        _excludedContracts.push(newExcludedContract);
    }

    function excludeSender(address newExcludedSender) internal {
        _excludedSenders.push(newExcludedSender);
    }

    function excludeArtifacts() public view returns (string[] memory) {
        return _excludedArtifacts;
    }

    function excludeContracts() public view returns (address[] memory) {
        return _excludedContracts;
    }

    function excludeSelectors() public view returns (FuzzSelector[] memory) {
        return _excludedSelectors;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludedSenders;
    }

    function targetArtifacts() public view returns (string[] memory) {
        return _targetedArtifacts;
    }

    function targetArtifactSelectors() public view returns (FuzzArtifactSelector[] memory) {
        return _targetedArtifactSelectors;
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function targetSenders() public view returns (address[] memory) {
        return _targetedSenders;
    }

    function targetInterfaces() public view returns (FuzzInterface[] memory) {
        return _targetedInterfaces;
    }
}

/// @notice Cheatcodes, assertions and fuzz helpers shared by every gridgame test (a small stand-in
/// for forge-std's `Test`). Failed assertions revert through the cheatcode assertions, which is
/// how Forge (without legacy assertions) detects a failure.
abstract contract Test is StdInvariant {
    /// @dev Kept for tools that still look for the DSTest marker.
    bool public IS_TEST = true;

    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 private constant UINT256_MAX = type(uint256).max;

    error TestBoundMaxBelowMin(uint256 min, uint256 max);

    // ---------------------------------------------------------------- accounts

    function makeAddr(string memory name) internal returns (address account) {
        (account,) = makeAddrAndKey(name);
    }

    function makeAddrAndKey(string memory name) internal returns (address account, uint256 privateKey) {
        privateKey = uint256(keccak256(abi.encodePacked(name)));
        account = vm.addr(privateKey);
        vm.label(account, name);
    }

    // ---------------------------------------------------------------- fuzz helpers

    /// @dev forge-std's `bound`: maps `x` into [min, max], leaving in-range values untouched and
    /// sending the first and last few uint256 values to the edges of the range.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256 result) {
        if (min > max) revert TestBoundMaxBelowMin(min, max);
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        if (x <= 3 && size > x) return min + x;
        if (x >= UINT256_MAX - 3 && size > UINT256_MAX - x) return max - (UINT256_MAX - x);
        if (x > max) {
            uint256 rem = (x - max) % size;
            if (rem == 0) return max;
            result = min + rem - 1;
        } else {
            uint256 rem = (min - x) % size;
            if (rem == 0) return min;
            result = max - rem + 1;
        }
    }

    // ---------------------------------------------------------------- assertions

    function assertTrue(bool condition) internal pure {
        vm.assertTrue(condition, "assertion failed");
    }

    function assertTrue(bool condition, string memory err) internal pure {
        vm.assertTrue(condition, err);
    }

    function assertFalse(bool condition) internal pure {
        vm.assertFalse(condition, "assertion failed");
    }

    function assertFalse(bool condition, string memory err) internal pure {
        vm.assertFalse(condition, err);
    }

    function assertEq(bool left, bool right) internal pure {
        vm.assertEq(left, right, "bool mismatch");
    }

    function assertEq(uint256 left, uint256 right) internal pure {
        vm.assertEq(left, right, "uint mismatch");
    }

    function assertEq(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(address left, address right) internal pure {
        vm.assertEq(left, right, "address mismatch");
    }

    function assertEq(address left, address right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(bytes32 left, bytes32 right) internal pure {
        vm.assertEq(left, right, "bytes32 mismatch");
    }

    function assertEq(bytes memory left, bytes memory right) internal pure {
        vm.assertEq(left, right, "bytes mismatch");
    }

    function assertEq(uint256[] memory left, uint256[] memory right) internal pure {
        vm.assertEq(left, right, "uint[] mismatch");
    }

    function assertEq(uint256[] memory left, uint256[] memory right, string memory err) internal pure {
        vm.assertEq(left, right, err);
    }

    function assertEq(address[] memory left, address[] memory right) internal pure {
        vm.assertEq(left, right, "address[] mismatch");
    }

    function assertLe(uint256 left, uint256 right) internal pure {
        vm.assertLe(left, right, "not <=");
    }

    function assertLe(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertLe(left, right, err);
    }

    function assertLt(uint256 left, uint256 right) internal pure {
        vm.assertLt(left, right, "not <");
    }

    function assertLt(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertLt(left, right, err);
    }

    function assertGe(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertGe(left, right, err);
    }

    function assertGt(uint256 left, uint256 right, string memory err) internal pure {
        vm.assertGt(left, right, err);
    }

    function assertGe(uint256 left, uint256 right) internal pure {
        vm.assertGe(left, right, "not >=");
    }

    function assertGt(uint256 left, uint256 right) internal pure {
        vm.assertGt(left, right, "not >");
    }
}
