// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {Errors} from "@openzeppelin/contracts/utils/Errors.sol";

import {IMarket} from "../src/IMarket.sol";
import {ForwardRequests} from "./utils/ForwardRequests.sol";
import {MarketFixture} from "./utils/MarketFixture.sol";

/// @notice The meta-transaction path: a relay executes prosumers' and the clock's signed
/// requests through the GridForwarder, and the Market acts for the signer, never the relay.
contract GridForwarderTest is MarketFixture {
    address internal relay;

    function setUp() public override {
        super.setUp();
        relay = makeAddr("relay");
    }

    function _signedRequest(address from, uint256 key, bytes memory data)
        internal
        view
        returns (ERC2771Forwarder.ForwardRequestData memory)
    {
        return ForwardRequests.signed(forwarder, key, from, address(market), data);
    }

    /// @dev The address the forwarder recovers from `request`'s signature.
    function _recover(ERC2771Forwarder.ForwardRequestData memory request) internal view returns (address) {
        bytes memory sig = request.signature;
        (bytes32 r, bytes32 s, uint8 v) = (bytes32(0), bytes32(0), uint8(0));
        assembly ("memory-safe") {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
            v := byte(0, mload(add(sig, 0x60)))
        }
        return ecrecover(ForwardRequests.digest(forwarder, request, forwarder.nonces(request.from)), v, r, s);
    }

    function _execute(ERC2771Forwarder.ForwardRequestData memory request) internal {
        vm.prank(relay);
        forwarder.execute(request);
    }

    function test_eip712Domain_isGridgame() public view {
        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            forwarder.eip712Domain();
        assertEq(keccak256(bytes(name)), keccak256("gridgame"));
        assertEq(keccak256(bytes(version)), keccak256("1"));
        assertEq(chainId, block.chainid);
        assertEq(verifyingContract, address(forwarder));
        assertTrue(market.isTrustedForwarder(address(forwarder)));
    }

    function test_execute_actsForSigningProsumer() public {
        (address prosumer, uint256 key) = _newProsumerWithKey(0);
        uint256 gameId = _openGame();
        _offer(gameId, _newProsumer(0), 1_000, 100_000);

        ERC2771Forwarder.ForwardRequestData memory request =
            _signedRequest(prosumer, key, abi.encodeCall(IMarket.publishDemand, (gameId, 700)));
        vm.expectEmit(address(market));
        emit IMarket.DemandPublished(gameId, prosumer, 0, 700);
        vm.expectEmit(address(forwarder));
        emit ERC2771Forwarder.ExecutedForwardRequest(prosumer, 0, true);
        _execute(request);

        (IMarket.Role role,) = market.participant(gameId, prosumer);
        assertEq(uint256(role), uint256(IMarket.Role.Buyer));
        (IMarket.Role relayRole,) = market.participant(gameId, relay);
        assertEq(uint256(relayRole), uint256(IMarket.Role.None));
        assertEq(forwarder.nonces(prosumer), 1);

        // the relay plays the signed bid of the prosumer's turn
        _closeRegistration(gameId);
        request = _signedRequest(prosumer, key, abi.encodeCall(IMarket.bid, (gameId, 1, 0, _list(600))));
        _execute(request);
        assertEq(market.bidOf(gameId, prosumer), _list(600));
        assertEq(uint256(market.phase(gameId)), uint256(IMarket.Phase.Bidding));
    }

    function test_execute_actsForSigningClock() public {
        (address signer, uint256 key) = makeAddrAndKey("clock signer");
        bytes32 clockRole = market.CLOCK_ROLE();
        vm.prank(operator);
        market.grantRole(clockRole, signer);

        ERC2771Forwarder.ForwardRequestData memory request =
            _signedRequest(signer, key, abi.encodeCall(IMarket.openGame, (_params())));
        _execute(request);
        assertEq(market.gameCount(), 1);
    }

    function test_execute_revertsOnForgedSignature() public {
        (address prosumer,) = _newProsumerWithKey(0);
        (address forger, uint256 forgerKey) = makeAddrAndKey("forger");
        uint256 gameId = _openGame();
        // the forger signs a request claiming to come from the prosumer
        ERC2771Forwarder.ForwardRequestData memory request =
            _signedRequest(forger, forgerKey, abi.encodeCall(IMarket.publishDemand, (gameId, 700)));
        request.from = prosumer;
        vm.expectRevert(
            abi.encodeWithSelector(ERC2771Forwarder.ERC2771ForwarderInvalidSigner.selector, _recover(request), prosumer)
        );
        _execute(request);
        (IMarket.Role role,) = market.participant(gameId, prosumer);
        assertEq(uint256(role), uint256(IMarket.Role.None));
    }

    function test_execute_relayGainsNoRights() public {
        (, uint256 key) = _newProsumerWithKey(0);
        uint256 gameId = _openGame();
        // a request signed by a prosumer but claiming the relay as sender is refused
        ERC2771Forwarder.ForwardRequestData memory request =
            _signedRequest(relay, key, abi.encodeCall(IMarket.publishDemand, (gameId, 700)));
        vm.expectRevert(
            abi.encodeWithSelector(ERC2771Forwarder.ERC2771ForwarderInvalidSigner.selector, _recover(request), relay)
        );
        _execute(request);
        // and the relay calling directly is itself, an outsider
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, relay));
        vm.prank(relay);
        market.publishDemand(gameId, 700);
    }

    /// @dev A signed request that the Market refuses makes `execute` revert with `FailedCall`
    /// (the forwarder drops the reason); the relay learns the Market's error by simulating the
    /// inner call as the forwarder: the request data with the signer's address appended.
    function test_execute_marketRefusalIsVisibleBySimulation() public {
        (address prosumer, uint256 key) = _newProsumerWithKey(0);
        uint256 gameId = _openGame();
        bytes memory data = abi.encodeCall(IMarket.publishDemand, (gameId, 0));
        ERC2771Forwarder.ForwardRequestData memory request = _signedRequest(prosumer, key, data);
        vm.expectRevert(abi.encodeWithSelector(Errors.FailedCall.selector));
        _execute(request);
        assertEq(forwarder.nonces(prosumer), 0);

        vm.prank(address(forwarder));
        (bool ok, bytes memory reason) = address(market).call(abi.encodePacked(data, prosumer));
        assertFalse(ok);
        assertEq(reason, abi.encodeWithSelector(IMarket.MarketZeroAmount.selector));
    }
}
